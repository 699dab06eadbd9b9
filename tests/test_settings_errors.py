"""A bad environment value is one line naming the variable, exit 2, in every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from batchcook.cli import app
from batchcook.config import SettingsError, get_settings, load_settings

COMMANDS = [
    ["create", "pasta"],
    ["modify", "0123456789abcdef0123456789abcdef", "make it vegan"],
    ["serve"],
    ["worker"],
    ["jobs"],
    ["doctor"],
    ["export", "some-id"],
    ["notion", "init", "--parent", "0123456789abcdef0123456789abcdef"],
    ["notion", "webhook-reset"],
    ["demo"],
]


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("NOTION_", "BATCHCOOK_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_names_the_bad_variable(command: list[str]) -> None:
    try:
        result = CliRunner().invoke(app, command, env={"BATCHCOOK_MODE": "turbo"})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert result.stderr == "error: BATCHCOOK_MODE: 'turbo' is not one of batch, flex, standard\n"
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_one_line_per_variable_and_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "BATCHCOOK_SWEEP_SCHEDULE": "every-minute",
        "BATCHCOOK_IMAGE_SIZE": "999x999",
        "BATCHCOOK_DATABASE_URL": "mysql://cook:hunter2@db/recipes",
        "BATCHCOOK_POLL_INTERVAL": "soon",
        "BATCHCOOK_IMAGE_QUALITY": "ultra",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    lines = caught.value.lines
    assert len(lines) == 5
    by_name = {line.split(":", 1)[0]: line for line in lines}
    assert "six fields with seconds first" in by_name["BATCHCOOK_SWEEP_SCHEDULE"]
    assert "multiples of 16" in by_name["BATCHCOOK_IMAGE_SIZE"]
    assert "'mysql://cook:***@db/recipes'" in by_name["BATCHCOOK_DATABASE_URL"]
    assert "hunter2" not in "\n".join(lines)
    assert "should be a valid number" in by_name["BATCHCOOK_POLL_INTERVAL"]
    assert by_name["BATCHCOOK_IMAGE_QUALITY"].endswith(
        "'ultra' is not one of low, medium, high, auto"
    )


def test_valid_values_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHCOOK_SWEEP_SCHEDULE", "*/5 * * * * *")
    monkeypatch.setenv("BATCHCOOK_IMAGE_SIZE", "2048x1152")  # gpt-image-2: flexible sizes
    monkeypatch.setenv("BATCHCOOK_DATABASE_URL", "postgresql://cook@db/recipes")
    settings = load_settings()
    assert settings.image_size == "2048x1152" and settings.sweep_schedule == "*/5 * * * * *"
    monkeypatch.setenv("BATCHCOOK_IMAGE_MODEL", "gpt-image-1")  # three fixed sizes only
    with pytest.raises(SettingsError, match="BATCHCOOK_IMAGE_SIZE: '2048x1152': gpt-image-1"):
        load_settings()


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHCOOK_", "NOTION_"))}
    env["BATCHCOOK_SWEEP_SCHEDULE"] = "every-minute"
    result = subprocess.run(
        [sys.executable, "-m", "batchcook", "worker"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: BATCHCOOK_SWEEP_SCHEDULE: 'every-minute': ")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_an_unreachable_system_database_is_one_line(tmp_path: Path) -> None:
    env = {"BATCHCOOK_DATABASE_URL": "postgresql://cook:hunter2@127.0.0.1:1/recipes"}
    try:
        result = CliRunner().invoke(app, ["jobs"], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: BATCHCOOK_DATABASE_URL: cannot connect to PostgreSQL on 127.0.0.1"
    )
    assert len(result.stderr.splitlines()) == 1 and "hunter2" not in result.stderr
