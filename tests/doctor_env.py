"""A complete, correct first setup for the doctor and preflight tests: both emulators over
HTTP (the OpenAI one on the pinned day, accepting one key), a SQLite system database in the
test's folder, and nothing from the outer environment or a stray ``.env``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.server import serve
from pinned import pinned_emulator

KEY = "sk-doctor-secret-key"


@dataclass
class Setup:
    env: dict[str, str]
    openai: OpenAIEmulator
    notion: NotionEmulator
    tmp: Path


@pytest.fixture(name="setup")
def setup_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    """A complete, correct setup: both emulators, a SQLite system database in tmp_path."""
    for name in list(os.environ):
        if name.startswith(("NOTION_", "BATCHCOOK_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    pinned = pinned_emulator()
    openai_emu = OpenAIEmulator(catalog=pinned.catalog, clock=pinned.clock, api_keys={KEY})
    notion = NotionEmulator(rate=None)
    with serve(openai_emu.app) as openai_url, serve(notion.app) as notion_url:
        env = {
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": f"{openai_url}/v1",
            "NOTION_TOKEN": notion.token,
            "NOTION_BASE_URL": notion_url,
            "NOTION_RECIPES_DATABASE_ID": notion.recipes_database_id,
            "BATCHCOOK_DATA_DIR": str(tmp_path / "data"),
            "BATCHCOOK_NOTION_REQUESTS_PER_SECOND": "1000",
        }
        yield Setup(env, openai_emu, notion, tmp_path)
