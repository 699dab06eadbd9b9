import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from batchcook import __version__
from batchcook.cli import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_demo_runs_the_service_end_to_end(tmp_path: Path) -> None:
    """`batchcook demo` in its own process, as `make demo` runs it from a fresh clone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHCOOK_", "NOTION_"))}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    env["BATCHCOOK_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "batchcook", "demo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"status": "succeeded"' in out
    assert "# Pasta Carbonara\n" in out  # the page, rendered by the Notion emulator
    assert "## Instructions" in out and "Comment: " in out
    job_id = next(line.split()[1] for line in out.splitlines() if line.startswith("job create-"))
    images = list(tmp_path.glob(f"{job_id}.*"))
    assert len(images) == 1 and images[0].stat().st_size > 1000
    assert "demo-key" not in out and "secret_" not in out  # no secrets printed


def test_notion_webhook_reset_forgets_the_saved_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHCOOK_", "NOTION_"))}
    env["BATCHCOOK_DATA_DIR"] = str(tmp_path)
    saved = tmp_path / "notion_verification_token"
    saved.write_text("secret_saved_by_a_handshake")

    def reset() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "batchcook", "notion", "webhook-reset"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = reset()
    assert first.returncode == 0, first.stderr
    assert "removed" in first.stdout and not saved.exists()
    assert "secret_saved_by_a_handshake" not in first.stdout + first.stderr
    assert "no saved token" in reset().stdout


def test_jobs_refuses_an_unknown_status(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["jobs", "--status", "bogus"])
    assert result.exit_code == 2
    assert "unknown status 'bogus'" in result.output
