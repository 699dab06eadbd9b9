"""Fixtures for the service tests: the shared engine and emulators (``engine_fixtures``),
re-pointed per test at fresh emulators with the Notion store."""

from __future__ import annotations

from pathlib import Path

import pytest
from openai import AsyncOpenAI

from batchcook.config import Settings
from batchcook.stores.notion import NotionStore, Pacer, RetryPolicy
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.server import Switch
from batchcook.workflows import watch
from batchcook.workflows.runtime import configure
from engine_fixtures import service_settings


@pytest.fixture
def service(
    dbos_engine: str,
    openai_emu: OpenAIEmulator,
    notion_emu: NotionEmulator,
    openai_switch: tuple[Switch, str],
    notion_switch: tuple[Switch, str],
    tmp_path: Path,
) -> Settings:
    """The running engine, re-pointed at this test's fresh emulators."""
    settings = service_settings(
        dbos_engine,
        openai_switch[1],
        tmp_path,
        notion_token=notion_emu.token,  # the API's create preflight reads the database
        notion_recipes_database_id=notion_emu.recipes_database_id,
        notion_base_url=notion_switch[1],
    )
    url = notion_switch[1]

    def store(database_id: str | None = None) -> NotionStore:
        return NotionStore(
            token=notion_emu.token,
            database_id=notion_emu.recipes_database_id,
            user_id=notion_emu.user_id,
            base_url=url,
            pacer=Pacer(rate=1000),
            retry=RetryPolicy(max_retries=4, base_delay=0.01),
            timeout=5.0,
        )

    def openai() -> AsyncOpenAI:
        return AsyncOpenAI(api_key="sk-test-key", base_url=f"{openai_switch[1]}/v1", max_retries=2)

    watch.stop()  # a fresh batch watch: nothing left from an earlier test's emulator
    configure(settings, openai=openai, store=store)
    return settings
