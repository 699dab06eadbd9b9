"""``batchcook doctor`` through the CLI, against both emulators over HTTP, on a pinned day.

Each test breaks one thing a person gets wrong in their first hour and checks that the
doctor names it, says what to do, and exits non-zero; a good setup passes every check.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from batchcook.cli import app
from batchcook.config import Settings, get_settings
from batchcook.doctor import image_check, model_check, url_check
from batchcook.generation.catalog import load_catalog
from doctor_env import KEY, Setup, setup_fixture  # noqa: F401
from pinned import PINNED_DAY, RETIRED_IMAGE, RETIRING_TEXT, write_retiring_catalog


def doctor(env: dict[str, str], *args: str, on: str = PINNED_DAY.isoformat()) -> Result:
    get_settings.cache_clear()  # the CLI reads settings once per process; here, per run
    try:
        return CliRunner().invoke(app, ["doctor", "--on", on, *args], env=env)
    finally:
        get_settings.cache_clear()


def checks(result: Result) -> dict[str, dict[str, Any]]:
    found = json.loads(result.stdout)
    assert all(set(c) == {"check", "ok", "detail"} for c in found)
    return {c["check"]: c for c in found}


def failed(result: Result) -> dict[str, str]:
    return {name: c["detail"] for name, c in checks(result).items() if not c["ok"]}


def test_a_good_setup_passes_every_check(setup: Setup) -> None:
    result = doctor(setup.env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("✓ ") for line in lines)
    for name in ("OpenAI key", "text model", "image model", "image options", "Notion token",
                 "recipes database", "webhooks", "system database"):  # fmt: skip
        assert any(line.startswith(f"✓ {name}:") for line in lines), name
    assert KEY not in result.output and setup.notion.token not in result.output
    assert setup.openai.state.calls.get("/v1/models") == 1  # the key was really tried
    as_json = doctor(setup.env, "--json")
    assert as_json.exit_code == 0 and not failed(as_json)


def test_a_refused_openai_key(setup: Setup) -> None:
    result = doctor({**setup.env, "OPENAI_API_KEY": "sk-wrong-key-1234"}, "--json")
    assert result.exit_code == 1
    assert failed(result) == {
        "OpenAI key": "OpenAI refused OPENAI_API_KEY: copy a current key from "
        "https://platform.openai.com/api-keys"
    }
    assert "sk-wrong-key-1234" not in result.output


def test_a_missing_openai_key(setup: Setup) -> None:
    env = {k: v for k, v in setup.env.items() if k != "OPENAI_API_KEY"}
    result = doctor(env)
    assert result.exit_code == 1
    assert "✗ OpenAI key: OPENAI_API_KEY is not set" in result.stdout


def test_base_urls_in_the_wrong_shape(setup: Setup) -> None:
    env = {
        **setup.env,
        "OPENAI_BASE_URL": setup.env["OPENAI_BASE_URL"].removesuffix("/v1"),
        "NOTION_BASE_URL": setup.env["NOTION_BASE_URL"] + "/v1",
    }
    problems = failed(doctor(env, "--json"))
    assert "should end in /v1" in problems["OpenAI base URL"]
    assert f"use {setup.env['NOTION_BASE_URL']}" in problems["Notion base URL"]
    assert url_check("x", "ftp://h/v1", v1=True).ok is False
    assert url_check("x", "https://api.openai.com/v1/", v1=True).ok


def test_a_mistyped_model_gets_did_you_mean(setup: Setup) -> None:
    result = doctor({**setup.env, "BATCHCOOK_TEXT_MODEL": "gpt-5.6-lunna"}, "--json")
    assert result.exit_code == 1
    detail = failed(result)["text model"]
    assert "'gpt-5.6-lunna' is not in the catalog: did you mean 'gpt-5.6-luna'?" in detail


def test_did_you_mean_never_offers_a_retired_model() -> None:
    catalog = load_catalog()
    after = PINNED_DAY + timedelta(days=60)  # every gpt-image-1* has shut down by then
    check = model_check("image", "gpt-image-1-mimi", catalog, "/v1/images/generations", after)
    assert not check.ok
    assert "did you mean 'gpt-image-2'?" in check.detail
    assert "gpt-image-1" not in check.detail.replace("gpt-image-1-mimi", "")
    # Nor one shutting down within 30 days: gpt-5-mini goes on 2026-12-11.
    soon = model_check("text", "gpt-5-mimi", catalog, "/v1/responses", PINNED_DAY)
    assert "did you mean 'gpt-5.4-mini'?" in soon.detail and "gpt-5-mini" not in soon.detail
    text_as_image = model_check("image", "gpt-5.6-luna", catalog, "/v1/images/generations", after)
    assert (
        "'gpt-5.6-luna' is not an image model: use one of the image models: gpt-image-2"
        in text_as_image.detail
    )


def test_retired_and_retiring_models(setup: Setup) -> None:
    catalog = write_retiring_catalog(setup.tmp)
    env = {
        **setup.env,
        "BATCHCOOK_CATALOG": str(catalog),
        "BATCHCOOK_TEXT_MODEL": RETIRING_TEXT,
        "BATCHCOOK_IMAGE_MODEL": RETIRED_IMAGE,
        "BATCHCOOK_IMAGE_SIZE": "1024x1024",
    }
    problems = failed(doctor(env, "--json"))
    assert problems["text model"].startswith(f"{RETIRING_TEXT} shuts down on ")
    assert problems["text model"].endswith("set BATCHCOOK_TEXT_MODEL=gpt-5.6-luna")
    assert "was shut down on" in problems["image model"]
    assert problems["image model"].endswith("set BATCHCOOK_IMAGE_MODEL=gpt-image-2")
    # Forty days earlier the retiring model is fine: the day is the parameter, not today.
    earlier = (PINNED_DAY - timedelta(days=40)).isoformat()
    assert "text model" not in failed(doctor(env, "--json", on=earlier))


def test_image_size_per_model() -> None:
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    legacy = base.model_copy(update={"image_model": "gpt-image-1", "image_size": "2048x1152"})
    check = image_check(legacy)
    assert not check.ok and "1024x1024, 1536x1024, 1024x1536, auto" in check.detail
    flexible = base.model_copy(update={"image_size": "2048x1152"})
    assert image_check(flexible).ok
    for size in ("1000x1000", "3200x1024", "4096x2304"):
        assert not image_check(base.model_copy(update={"image_size": size})).ok, size


def test_notion_database_missing_and_mistyped_properties(setup: Setup) -> None:
    setup.notion.set_property("Diet", None)
    setup.notion.set_property("Prep Time (min)", "rich_text")
    result = doctor(setup.env, "--json")
    assert result.exit_code == 1
    detail = failed(result)["recipes database"]
    assert "missing 'Diet' (multi_select)" in detail
    assert "'Prep Time (min)' is rich_text, should be number" in detail
    assert f"batchcook notion init --fix {setup.notion.recipes_database_id}" in detail


def test_notion_database_not_shared_or_unset(setup: Setup) -> None:
    other = {**setup.env, "NOTION_RECIPES_DATABASE_ID": "0123456789abcdef0123456789abcdef"}
    assert "shared with the integration" in failed(doctor(other, "--json"))["recipes database"]
    unset = {k: v for k, v in setup.env.items() if k != "NOTION_RECIPES_DATABASE_ID"}
    assert "notion init --parent" in failed(doctor(unset, "--json"))["recipes database"]


def test_a_refused_notion_token(setup: Setup) -> None:
    result = doctor({**setup.env, "NOTION_TOKEN": "secret_wrong_token"}, "--json")
    assert result.exit_code == 1
    assert "Notion refused NOTION_TOKEN" in failed(result)["Notion token"]
    assert "secret_wrong_token" not in result.output


def test_without_notion_token_the_local_store_passes(setup: Setup) -> None:
    env = {k: v for k, v in setup.env.items() if not k.startswith("NOTION_")}
    result = doctor(env, "--json")
    assert result.exit_code == 0, result.output
    notion = checks(result)["Notion"]
    assert notion["ok"] and notion["detail"].startswith("local store")
    assert setup.notion.journal == []  # nothing asked of Notion


def test_an_openai_webhook_secret_in_the_wrong_shape(setup: Setup) -> None:
    result = doctor({**setup.env, "OPENAI_WEBHOOK_SECRET": "not-a-signing-secret"}, "--json")
    assert "does not start with whsec_" in failed(result)["webhooks"]
    assert "not-a-signing-secret" not in result.output
    good = doctor({**setup.env, "OPENAI_WEBHOOK_SECRET": "whsec_c2VjcmV0"}, "--json")
    assert "OpenAI webhook on" in checks(good)["webhooks"]["detail"]


def test_an_unreachable_system_database(setup: Setup) -> None:
    url = "postgresql://batchcook:hunter2@127.0.0.1:1/batchcook"
    result = doctor({**setup.env, "BATCHCOOK_DATABASE_URL": url}, "--json")
    assert result.exit_code == 1
    assert "cannot connect to PostgreSQL on 127.0.0.1" in failed(result)["system database"]
    assert "hunter2" not in result.output


@pytest.mark.parametrize(
    ("status", "detail"),
    [(429, "accepted (rate limited just now)"), (403, "accepted (this key may not list models)")],
)
def test_a_key_that_cannot_list_models_now_is_still_accepted(
    setup: Setup, status: int, detail: str
) -> None:
    """A 429 or a restricted key's 403 come after authentication: the key is good."""
    setup.openai.faults.http(status=status, path="/v1/models", retry_after=1)
    result = doctor(setup.env, "--json")
    assert checks(result)["OpenAI key"] == {"check": "OpenAI key", "ok": True, "detail": detail}
