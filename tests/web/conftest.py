"""Fixtures for the gallery: the shared engine (SQLite only: the gallery reads what any
backend wrote), the local store in a fresh data dir, the app on a loopback port, and
Debian's chromium driven by Playwright (skipped, saying why, when chromium is missing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from pydantic import SecretStr

from batchcook.api.app import create_app
from batchcook.stores.local import LocalStore
from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.server import Switch, serve
from batchcook.workflows import watch
from batchcook.workflows.runtime import configure
from engine_fixtures import service_settings
from gallery_helpers import Gallery

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _gallery(
    dbos_engine: str,
    openai_emu: OpenAIEmulator,
    openai_switch: tuple[Switch, str],
    tmp_path: Path,
    **overrides: Any,
) -> Iterator[Gallery]:
    settings = service_settings(dbos_engine, openai_switch[1], tmp_path, **overrides)
    store = LocalStore(tmp_path)

    def openai() -> AsyncOpenAI:
        return AsyncOpenAI(api_key="sk-test-key", base_url=f"{openai_switch[1]}/v1", max_retries=2)

    watch.stop()  # a fresh batch watch: nothing left from an earlier test's emulator
    configure(settings, openai=openai, store=lambda database_id: LocalStore(tmp_path))
    with serve(create_app(settings, manage_engine=False)) as url:
        yield Gallery(url, settings, store, openai_emu)


@pytest.fixture
def gallery(
    dbos_engine: str,
    openai_emu: OpenAIEmulator,
    openai_switch: tuple[Switch, str],
    tmp_path: Path,
) -> Iterator[Gallery]:
    """The service on the local store (no Notion token), open to all."""
    yield from _gallery(dbos_engine, openai_emu, openai_switch, tmp_path)


@pytest.fixture
def keyed_gallery(
    dbos_engine: str,
    openai_emu: OpenAIEmulator,
    openai_switch: tuple[Switch, str],
    tmp_path: Path,
) -> Iterator[Gallery]:
    """The same with ``BATCHCOOK_API_KEY`` set."""
    yield from _gallery(
        dbos_engine, openai_emu, openai_switch, tmp_path, api_key=SecretStr("web-key-1")
    )


@pytest.fixture
def capped_gallery(
    dbos_engine: str,
    openai_emu: OpenAIEmulator,
    openai_switch: tuple[Switch, str],
    tmp_path: Path,
) -> Iterator[Gallery]:
    """The same with a daily budget already spent (a cap below any job's estimate)."""
    yield from _gallery(dbos_engine, openai_emu, openai_switch, tmp_path, daily_budget_usd=0.000001)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module, not per session: Playwright's sync API keeps its event loop set as the
    running one while it is open, and DBOS refuses to launch under a running loop (the
    PostgreSQL round of tests/service launches it again after these tests)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium chromium-driver")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
