"""``batchcook export``: one recipe from the local store, found by recipe id or job id, as
JSON-LD, Markdown or a printable page; clear one-line errors otherwise."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner, Result

from batchcook import cli
from batchcook.cli_export import ExportError, find_recipe, modify_job_recipe
from batchcook.config import Settings
from batchcook.recipes.fixtures import carbonara
from batchcook.stores.base import Image
from batchcook.stores.local import LocalStore


def _photo() -> Image:
    buffer = io.BytesIO()
    PILImage.new("RGB", (32, 24), "orange").save(buffer, "JPEG")
    return Image(buffer.getvalue(), "image/jpeg")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setattr(
        cli,
        "_settings",
        lambda: Settings(_env_file=None, data_dir=data),  # type: ignore[call-arg]
    )
    monkeypatch.delenv("NOTION_TOKEN", raising=False)
    return data


@pytest.fixture
def recipe_id(data_dir: Path) -> str:
    stored = asyncio.run(LocalStore(data_dir).create(carbonara(), _photo(), job_id="create-42"))
    return stored.id


def _export(*args: str) -> Result:
    return CliRunner().invoke(cli.app, ["export", *args])


def test_jsonld_by_recipe_id_or_by_job_id(recipe_id: str, data_dir: Path) -> None:
    by_recipe = _export(recipe_id)
    by_job = _export("create-42", "--format", "jsonld")
    assert by_recipe.exit_code == 0, by_recipe.stderr
    assert by_recipe.stdout == by_job.stdout
    data = json.loads(by_recipe.stdout)
    assert data["@type"] == "Recipe" and data["name"] == "Pasta Carbonara"
    image = Path(unquote(urlsplit(data["image"]).path))
    assert image.read_bytes() == (data_dir / "images" / f"{recipe_id}.jpg").read_bytes()


def test_jsonld_with_the_published_image_url(recipe_id: str) -> None:
    result = _export(recipe_id, "--image-url", "https://example.com/c.jpg")
    assert json.loads(result.stdout)["image"] == "https://example.com/c.jpg"
    refused = _export(recipe_id, "--image-url", "c.jpg")
    assert refused.exit_code == 2 and "not an absolute URL" in refused.stderr


def test_markdown_links_the_image_from_where_it_is_written(
    recipe_id: str, data_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "exports" / "deep" / "carbonara.md"
    result = _export(recipe_id, "--format", "markdown", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and f"wrote {target}" in result.stderr
    text = target.read_text()
    assert text.startswith("# Pasta Carbonara\n")
    [link] = re.findall(r"^!\[Pasta Carbonara\]\(([^)]+)\)$", text, flags=re.MULTILINE)
    assert not link.startswith("/")
    assert (target.parent / unquote(link)).read_bytes() == _photo().data


def test_html_is_one_standalone_page(recipe_id: str, tmp_path: Path) -> None:
    target = tmp_path / "carbonara.html"
    result = _export(recipe_id, "-f", "html", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<h1>Pasta Carbonara</h1>" in page
    assert 'src="data:image/jpeg;base64,' in page
    script = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert script and json.loads(script.group(1))["name"] == "Pasta Carbonara"
    assert not re.search(r'(src|href)="(https?:)?//', page)


def _one_line_error(result: Result, code: int, *phrases: str) -> None:
    assert result.exit_code == code, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for phrase in phrases:
        assert phrase in lines[0]


def test_an_unknown_id_is_one_line_and_exit_2(recipe_id: str) -> None:
    _one_line_error(_export("create-nope"), 2, "no recipe 'create-nope'", "batchcook jobs")


def test_an_unknown_format_exits_2(recipe_id: str) -> None:
    _one_line_error(_export(recipe_id, "--format", "pdf"), 2, "jsonld, markdown, html")


def test_an_empty_data_dir_says_where_it_looked(data_dir: Path) -> None:
    _one_line_error(_export("create-42"), 2, "no local store", "BATCHCOOK_DATA_DIR")
    assert not data_dir.exists()  # looking did not create it


async def test_a_modify_job_is_found_through_its_job_record(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    stored = await store.create(carbonara(), None, job_id="create-1")
    asked: list[str] = []

    def records(job_id: str) -> str | None:
        asked.append(job_id)
        return {"modify-7": stored.id}.get(job_id)

    assert (await find_recipe(store, "modify-7", records)).id == stored.id
    assert (await find_recipe(store, "create-1", records)).id == stored.id
    assert (await find_recipe(store, f" {stored.id} ", records)).id == stored.id
    assert asked == ["modify-7"]  # job records are read only for modify jobs
    for unknown in ("modify-8", "create-2", "something"):
        with pytest.raises(ExportError, match="no recipe") as caught:
            await find_recipe(store, unknown, records)
        assert caught.value.exit_code == 2


SEED_MODIFY_JOB = """
import asyncio, sys
from batchcook import service
from batchcook.config import Settings
from batchcook.inputs import build_job

settings = Settings(_env_file=None)
job = build_job("modify", "make it vegan", settings, page_id=sys.argv[1], request_id="m-1")
with service.local_engine(settings, worker=False):  # no worker: the job stays queued
    asyncio.run(service.start([job]))
print(job.id)
"""


def test_a_modify_job_id_end_to_end(recipe_id: str, data_dir: Path, tmp_path: Path) -> None:
    """The job record is read on the real system database, in processes like the user's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHCOOK_", "NOTION_"))}
    env["BATCHCOOK_DATA_DIR"] = str(data_dir)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    seeded = run("-c", SEED_MODIFY_JOB, recipe_id)
    assert seeded.returncode == 0, seeded.stderr
    job_id = seeded.stdout.strip().splitlines()[-1]
    assert job_id == "modify-m-1"
    exported = run("-m", "batchcook", "export", job_id)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["name"] == "Pasta Carbonara"


def test_an_unreadable_system_database_is_one_clear_error(tmp_path: Path) -> None:
    def refuse(*args: object) -> list[object]:
        raise OSError("connection refused\n  with a long traceback-like tail")

    lookup = modify_job_recipe(Settings(_env_file=None, data_dir=tmp_path), refuse)  # type: ignore[call-arg]
    with pytest.raises(ExportError, match=r"\(connection refused\); pass the recipe id") as e:
        lookup("modify-1")
    assert "\n" not in str(e.value)
