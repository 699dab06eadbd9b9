"""Fixtures for the Notion store and emulator tests.

One loopback server (``notion_switch``, from ``engine_fixtures``) runs for the whole
session; each test gets a fresh emulator behind it (``emulator``), so state never leaks
between tests and no test pays for a server start.
Rate limiting is off and retry delays are tiny unless a test turns them on.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from notion_client import AsyncClient
from PIL import Image as PILImage

from batchcook.stores.base import Image, RecipeStore
from batchcook.stores.local import LocalStore
from batchcook.stores.notion import NotionStore
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.server import Switch
from engine_fixtures import notion_store_for


@pytest.fixture
def emulator(notion_emu: NotionEmulator) -> NotionEmulator:
    """A fresh emulator for each test, behind the session's one loopback server."""
    return notion_emu


@pytest.fixture
def notion_url(notion_switch: tuple[Switch, str], emulator: NotionEmulator) -> str:
    return notion_switch[1]


@pytest.fixture
async def client(notion_url: str, emulator: NotionEmulator) -> AsyncIterator[AsyncClient]:
    """notion-client as a user of the API would configure it (its own retries off, so
    tests see each answer)."""
    client = AsyncClient(auth=emulator.token, base_url=notion_url, retry=False)
    yield client
    await client.aclose()


@pytest.fixture
async def notion_store(emulator: NotionEmulator, notion_url: str) -> AsyncIterator[NotionStore]:
    store = notion_store_for(emulator, notion_url)
    yield store
    await store.aclose()


@pytest.fixture
async def make_store(
    emulator: NotionEmulator, notion_url: str
) -> AsyncIterator[Callable[..., NotionStore]]:
    """Stores with other options (pacing, retries, ids); closed after the test."""
    made: list[NotionStore] = []

    def make(**overrides: Any) -> NotionStore:
        made.append(notion_store_for(emulator, notion_url, **overrides))
        return made[-1]

    yield make
    for store in made:
        await store.aclose()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "data")


@pytest.fixture(params=["notion", "local"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RecipeStore]:
    """Each contract test runs against both stores."""
    if request.param == "local":
        yield LocalStore(tmp_path / "data")
        return
    emulator = request.getfixturevalue("emulator")
    store = notion_store_for(emulator, request.getfixturevalue("notion_url"))
    yield store
    await store.aclose()


@pytest.fixture
def photo() -> Image:
    """A small real JPEG, like the generated food photographs."""
    return jpeg()


@pytest.fixture
def other_photo() -> Image:
    return png()


def jpeg(color: str = "orange", size: tuple[int, int] = (64, 48)) -> Image:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, "JPEG", quality=80)
    return Image(buffer.getvalue(), "image/jpeg")


def png(color: str = "green") -> Image:
    buffer = io.BytesIO()
    PILImage.new("RGB", (32, 32), color).save(buffer, "PNG")
    return Image(buffer.getvalue(), "image/png")
