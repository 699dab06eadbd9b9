"""``batchcook export`` with ``NOTION_TOKEN`` set: the recipe read back from its page in the
Notion emulator, through the real CLI, found by page id, page URL or job id; the cover
linked (JSON-LD, Markdown) or downloaded and inlined (HTML); one-line errors otherwise."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from batchcook import cli
from batchcook.cli_export import ExportError, find_recipe
from batchcook.config import Settings
from batchcook.recipes.fixtures import carbonara
from batchcook.stores.base import Image, StoredRecipe
from batchcook.stores.notion import NotionStore
from batchcook.testing.notion_emulator import NotionEmulator

UseSettings = Callable[..., Settings]


@pytest.fixture
def use_settings(
    emulator: NotionEmulator, notion_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> UseSettings:
    """Points the CLI at the emulator (fast pacing, quick retries); ``overrides`` change
    one setting, as a user's environment would."""

    def use(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "notion_token": emulator.token,
            "notion_recipes_database_id": emulator.recipes_database_id,
            "notion_base_url": notion_url,
            "notion_requests_per_second": 1000,
            "notion_max_retries": 1,
            "notion_retry_delay": 0.01,
            **overrides,
        }
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        monkeypatch.setattr(cli, "_settings", lambda: settings)
        return settings

    use()
    return use


@pytest.fixture
async def page(notion_store: NotionStore, photo: Image, use_settings: UseSettings) -> StoredRecipe:
    """Carbonara filed by a create job, with its photo as the page's cover."""
    return await notion_store.create(carbonara(), photo, job_id="create-42")


def _export(*args: str) -> Result:
    return CliRunner().invoke(cli.app, ["export", *args])


def _one_line_error(result: Result, code: int, *phrases: str) -> str:
    assert result.exit_code == code, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for phrase in phrases:
        assert phrase in lines[0]
    return lines[0]


def _without_image(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    data.pop("image", None)
    return data


def test_jsonld_by_page_id_url_or_job_id(page: StoredRecipe, photo: Image) -> None:
    by_id = _export(page.id)
    assert by_id.exit_code == 0, by_id.stderr
    data = json.loads(by_id.stdout)
    assert data["@type"] == "Recipe" and data["name"] == "Pasta Carbonara"
    assert httpx.get(data["image"]).content == photo.data  # Notion's link to the cover
    assert "note: the image link is Notion's and expires at" in by_id.stderr
    url = f"https://www.notion.so/Pasta-Carbonara-{page.id.replace('-', '')}"
    for ident in (url, page.id.replace("-", ""), "create-42"):
        again = _export(ident)
        assert again.exit_code == 0, again.stderr
        assert _without_image(again.stdout) == _without_image(by_id.stdout)


def test_the_published_image_url_replaces_notions(page: StoredRecipe) -> None:
    result = _export(page.id, "--image-url", "https://example.com/c.jpg")
    assert json.loads(result.stdout)["image"] == "https://example.com/c.jpg"
    assert "note:" not in result.stderr


def test_html_inlines_the_downloaded_cover(
    page: StoredRecipe, photo: Image, tmp_path: Path
) -> None:
    target = tmp_path / "carbonara.html"
    result = _export(page.id, "-f", "html", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert "note:" not in result.stderr
    text = target.read_text()
    assert "<h1>Pasta Carbonara</h1>" in text
    found = re.search(r'src="data:image/jpeg;base64,([^"]+)"', text)
    assert found and base64.b64decode(found.group(1)) == photo.data
    assert not re.search(r'(src|href)="(https?:)?//', text)


def test_markdown_links_the_cover(page: StoredRecipe) -> None:
    result = _export(page.id, "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("# Pasta Carbonara\n")
    [link] = re.findall(r"^!\[Pasta Carbonara\]\(([^)]+)\)$", result.stdout, flags=re.M)
    assert link.startswith("http://") and "?expires=" in link
    published = _export(page.id, "-f", "markdown", "--image-url", "https://example.com/c (1).jpg")
    assert "](https://example.com/c%20%281%29.jpg)" in published.stdout


@pytest.fixture
async def bare_page(notion_store: NotionStore, use_settings: UseSettings) -> StoredRecipe:
    """A recipe filed without a photo (its image failed, or none was made)."""
    return await notion_store.create(carbonara(), None, job_id="create-1")


def test_a_page_without_a_cover(bare_page: StoredRecipe) -> None:
    data = json.loads(_export(bare_page.id).stdout)
    assert "image" not in data
    page = _export(bare_page.id, "-f", "html").stdout
    assert "<h1>Pasta Carbonara</h1>" in page and "<img" not in page


def test_an_unknown_page_is_one_line_and_exit_2(
    page: StoredRecipe, emulator: NotionEmulator
) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    _one_line_error(
        _export(unknown),
        2,
        f"no recipe {unknown!r}",
        "is shared with the integration",
        "batchcook jobs",
    )
    _one_line_error(_export("create-nope"), 2, "no recipe 'create-nope'", "page's id or URL")
    elsewhere = emulator.add_page("Shopping list")
    _one_line_error(_export(elsewhere), 2, "is not in the recipes database")


def test_notion_refusing_is_one_line_and_exit_1(
    page: StoredRecipe, use_settings: UseSettings
) -> None:
    use_settings(notion_token="secret_wrong")
    line = _one_line_error(_export(page.id), 1, "check NOTION_TOKEN")
    assert "secret_wrong" not in line


def test_without_a_database_id_it_says_which_setting(use_settings: UseSettings) -> None:
    use_settings(notion_recipes_database_id=None)
    _one_line_error(_export("create-42"), 2, "NOTION_RECIPES_DATABASE_ID")


async def test_a_modify_job_names_its_page(notion_store: NotionStore, photo: Image) -> None:
    stored = await notion_store.create(carbonara(), photo, job_id="create-1")
    asked: list[str] = []

    def records(job_id: str) -> str | None:
        asked.append(job_id)
        return {"modify-7": stored.id.replace("-", "")}.get(job_id)  # as a user passed it

    found = await find_recipe(notion_store, "modify-7", records)
    assert found.id == stored.id and found.recipe.title == "Pasta Carbonara"
    assert found.cover is not None and found.cover.expires is not None
    assert await found.load_image() == photo
    assert (await find_recipe(notion_store, "create-1", records)).id == stored.id
    assert asked == ["modify-7"]
    with pytest.raises(ExportError, match="no recipe 'modify-8'") as caught:
        await find_recipe(notion_store, "modify-8", records)
    assert caught.value.exit_code == 2


def test_a_trashed_page_says_restore_it(page: StoredRecipe, emulator: NotionEmulator) -> None:
    emulator.workspace.pages[page.id].in_trash = True
    _one_line_error(_export(page.id), 2, "in Notion's trash; restore it first")


@pytest.fixture
async def placeholder(notion_store: NotionStore, use_settings: UseSettings) -> StoredRecipe:
    """The page a create job shows while its batches run."""
    return await notion_store.placeholder("Pasta Carbonara", "create-9", ["batch_1"])


def test_a_placeholder_says_its_job_is_still_making_it(placeholder: StoredRecipe) -> None:
    _one_line_error(
        _export("create-9"), 1, "create-9 is still making it", "batchcook jobs create-9"
    )


def test_requests_as_the_readme_counts_them(page: StoredRecipe, emulator: NotionEmulator) -> None:
    """Open the database (2), read the page and its body (2); a job id costs one query."""
    for ident, expected in ((page.id, 4), ("create-42", 5)):
        emulator.journal.clear()
        assert _export(ident, "-f", "html").exit_code == 0
        assert len(emulator.journal) == expected, [(r.method, r.path) for r in emulator.journal]
