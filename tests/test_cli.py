from typer.testing import CliRunner

from batchcook import __version__
from batchcook.cli import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_demo_runs_the_batch_round_trip(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BATCHCOOK_DATA_DIR", str(tmp_path))
    from batchcook.config import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["demo"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "recipe:" in result.stdout
    assert (tmp_path / "demo-recipe.json").exists()
