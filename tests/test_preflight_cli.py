"""``batchcook create`` (in-process) refuses, before anything is uploaded, a job that would
fail after its batches are paid for: with the doctor's words, exit 2 (1 when Notion itself
is failing), and the OpenAI emulator sees no file and no batch."""

from __future__ import annotations

from click.testing import Result
from typer.testing import CliRunner

from batchcook.cli import app
from batchcook.config import get_settings
from doctor_env import Setup, setup_fixture  # noqa: F401
from pinned import RETIRED_IMAGE, write_retiring_catalog


def create(env: dict[str, str], *args: str) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["create", "pasta carbonara", *args], env=env)
    finally:
        get_settings.cache_clear()


def nothing_paid(setup: Setup) -> None:
    calls = setup.openai.state.calls
    assert not any(path.startswith(("/v1/files", "/v1/batches")) for path in calls), calls
    assert setup.openai.state.batches == {} and setup.openai.state.files == {}


def test_a_database_missing_properties_is_refused(setup: Setup) -> None:
    setup.notion.set_property("Allergies", None)
    result = create(setup.env, "--wait")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: recipes database: missing 'Allergies' (multi_select)")
    assert f"notion init --fix {setup.notion.recipes_database_id}" in result.stderr
    nothing_paid(setup)


def test_a_database_the_integration_cannot_see_is_refused(setup: Setup) -> None:
    result = create(setup.env, "--db", "0123456789abcdef0123456789abcdef")
    assert result.exit_code == 2, result.output
    assert "shared with the integration" in result.stderr
    nothing_paid(setup)


def test_a_retired_image_model_is_refused(setup: Setup) -> None:
    env = {
        **setup.env,
        "BATCHCOOK_CATALOG": str(write_retiring_catalog(setup.tmp)),
        "BATCHCOOK_IMAGE_MODEL": RETIRED_IMAGE,
        "BATCHCOOK_IMAGE_SIZE": "1024x1024",
    }
    result = create(env, "--wait")
    assert result.exit_code == 2, result.output
    assert f"error: image model: {RETIRED_IMAGE} was shut down on" in result.stderr
    assert "BATCHCOOK_IMAGE_MODEL=gpt-image-2" in result.stderr
    nothing_paid(setup)
    assert setup.notion.journal == []  # the model was enough: Notion not asked


def test_notion_down_exits_1(setup: Setup) -> None:
    setup.notion.faults.add("GET", r"/v1/databases/", status=503, times=10)
    result = create(setup.env)
    assert result.exit_code == 1, result.output
    assert "error: recipes database: Notion is not answering" in result.stderr
    nothing_paid(setup)


def test_bad_input_is_still_reported_first(setup: Setup) -> None:
    setup.notion.set_property("Allergies", None)
    result = create(setup.env, "--mode", "turbo")
    assert result.exit_code == 2 and "unknown mode 'turbo'" in result.output
    assert setup.notion.journal == []


def test_modify_is_refused_the_same_way(setup: Setup) -> None:
    setup.notion.set_property("Protein Type", None)
    get_settings.cache_clear()
    try:
        args = ["modify", "0123456789abcdef0123456789abcdef", "make it vegan", "--wait"]
        result = CliRunner().invoke(app, args, env=setup.env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "missing 'Protein Type' (multi_select)" in result.stderr
    nothing_paid(setup)
