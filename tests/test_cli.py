import os
import re
import signal
import subprocess
import sys
import webbrowser
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from batchcook import __version__
from batchcook.cli import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def _demo_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHCOOK_", "NOTION_"))}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    env["BATCHCOOK_DATA_DIR"] = str(tmp_path)
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "100"
    return env


def test_demo_runs_the_service_end_to_end(tmp_path: Path) -> None:
    """`batchcook demo` in its own process, as `make demo` runs it from a fresh clone."""
    result = subprocess.run(
        [sys.executable, "-m", "batchcook", "demo"],
        env=_demo_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"status": "succeeded"' in out
    # Says what happened: both APIs emulated, a recipe from the shipped fixtures.
    assert "OpenAI and Notion are both emulated" in out and "no API key" in out
    assert "with a recipe written for batchcook (fixtures: shipped)" in out
    # A recipe a person would cook, not schema filler, on the page the emulator rendered.
    assert "# Pasta Carbonara\n" in out and '"title": "Pasta Carbonara"' in out
    assert "**Guanciale (or pancetta)** - 150 g" in out and "Description for" not in out
    assert "## Instructions" in out and "Comment: " in out
    # The link shown is the emulator's HTML view of the page, not a notion.so address.
    assert "notion.so" not in out
    assert re.search(r"^gallery: http://127\.0\.0\.1:\d+/recipes/\S+$", out, re.M), out
    page_id = re.search(r'"page_id": "([0-9a-f-]{36})"', out)
    assert page_id is not None
    view = re.search(r"^page:  (http://127\.0\.0\.1:\d+/_emulator/pages/(\S+))$", out, re.M)
    assert view is not None and view.group(2) == f"{page_id.group(1)}?format=html"
    assert f'"page_url": "{view.group(1)}"' in out
    assert "there only while the demo runs" in out and "the page's text follows" in out
    job_id = next(line.split()[1] for line in out.splitlines() if line.startswith("job create-"))
    images = list(tmp_path.glob(f"{job_id}.*"))
    assert len(images) == 1 and images[0].stat().st_size > 1000
    assert "demo-key" not in out and "secret_" not in out  # no secrets printed


def test_demo_keep_serves_the_page_view_until_interrupted(tmp_path: Path) -> None:
    """`batchcook demo --keep`: the printed HTML view URL answers with the page, and Ctrl-C
    ends the demo cleanly."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchcook", "demo", "apple crumble", "--keep"],
        env=_demo_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As from a terminal: a test run started in the background (`make test &`) passes
        # SIGINT on as ignored, and the demo would never see the Ctrl-C below.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:  # blocks until the demo prints; no sleeping
            seen.append(line)
            if line.startswith("Serving the emulators"):
                break
        out = "".join(seen)
        view = re.search(r"^page:  (\S+)$", out, re.M)
        assert view is not None, out
        page = httpx.get(view.group(1), timeout=10)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "# Apple Crumble" in page.text and "Bramley" in page.text
        gallery = re.search(r"^gallery: (\S+)$", out, re.M)
        assert gallery is not None, out
        recipe = httpx.get(gallery.group(1), timeout=10)
        assert recipe.status_code == 200 and "Apple Crumble" in recipe.text
        assert '<script type="application/ld+json">' in recipe.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


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


def test_open_prints_and_opens_the_gallery_recipe_or_job_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    base = "http://gallery.test:9000"
    for args in ([], ["0123abcd"], ["create-r1"]):
        result = CliRunner().invoke(app, ["open", *args, "--server", base])
        assert result.exit_code == 0, result.output
    assert opened == [f"{base}/", f"{base}/recipes/0123abcd", f"{base}/jobs/create-r1"]
