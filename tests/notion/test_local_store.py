"""The local store's own promises: files on disk a person can open, ids that survive a
restart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batchcook.config import Settings
from batchcook.recipes.fixtures import carbonara
from batchcook.stores.base import Image
from batchcook.stores.choose import open_store
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


def _image_links(markdown: str) -> list[str]:
    return re.findall(r"^!\[[^\]]*\]\(([^)]+)\)$", markdown, flags=re.MULTILINE)


async def test_the_markdown_shows_its_image(
    local_store: LocalStore, photo: Image, other_photo: Image
) -> None:
    """A relative link, so the image shows in any Markdown viewer and the folder can move."""
    stored = await local_store.create(carbonara(), photo, job_id="job-1")
    markdown_file = local_store.path(stored.id)
    text = markdown_file.read_text()
    assert text.startswith(f"# Pasta Carbonara\n\n![Pasta Carbonara](../images/{stored.id}.jpg)\n")
    [link] = _image_links(text)
    assert (markdown_file.parent / link).read_bytes() == photo.data
    assert await local_store.text(stored.id) == text

    await local_store.update(stored.id, carbonara(), None)  # the image stays, and its link
    assert _image_links(markdown_file.read_text()) == [link]

    await local_store.update(stored.id, carbonara(), other_photo)
    [new_link] = _image_links(markdown_file.read_text())
    assert new_link == f"../images/{stored.id}.png"
    assert (markdown_file.parent / new_link).read_bytes() == other_photo.data
    assert not (markdown_file.parent / link).exists()
    image_file = await local_store.image_file(stored.id)
    assert image_file == (markdown_file.parent / new_link).resolve()


async def test_no_image_no_link(local_store: LocalStore) -> None:
    stored = await local_store.create(carbonara(), None, job_id="job-1")
    assert _image_links(await local_store.text(stored.id)) == []
    assert await local_store.image_file(stored.id) is None
