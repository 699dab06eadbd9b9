"""The local store's own promises: files on disk a person can open, ids that survive a
restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchcook.config import Settings
from batchcook.recipes.fixtures import carbonara
from batchcook.stores import open_store
from batchcook.stores.base import Image
from batchcook.stores.local import LocalStore
from batchcook.stores.notion import NotionStore


async def test_recipe_as_text_and_as_a_file(local_store: LocalStore, photo: Image) -> None:
    stored = await local_store.create(carbonara(), photo, job_id="job-1")
    text = await local_store.text(stored.id)
    assert text.startswith("# Pasta Carbonara\n")
    assert "- **Spaghetti** - 400 g" in text
    assert "## Instructions\n\n1. Boil the spaghetti" in text
    assert local_store.path(stored.id).read_text() == text
    assert stored.url == local_store.path(stored.id).resolve().as_uri()
    [image_file] = (local_store.data_dir / "images").iterdir()
    assert image_file.name == f"{stored.id}.jpg" and image_file.read_bytes() == photo.data


async def test_ids_survive_a_restart(tmp_path: Path, photo: Image) -> None:
    stored = await LocalStore(tmp_path).create(carbonara(), photo, job_id="job-1")
    reopened = LocalStore(tmp_path)
    assert await reopened.find_by_job("job-1") == stored
    assert await reopened.read(stored.id) == carbonara()


async def test_the_store_follows_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTION_TOKEN", raising=False)
    local = open_store(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    assert isinstance(local, LocalStore) and local.data_dir == tmp_path
    notion = open_store(
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=tmp_path,
            notion_token="secret_x",
            notion_recipes_database_id="db",
        )
    )
    assert isinstance(notion, NotionStore) and "secret_x" not in repr(notion)
    await notion.aclose()
