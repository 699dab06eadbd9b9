"""What ``batchcook export`` does: one recipe as JSON-LD, Markdown or a printable HTML page,
read from where the jobs filed it — the Notion recipes database when ``NOTION_TOKEN`` is set,
else the local store — kept out of ``cli.py``.

A recipe is named the way the user met it: by its id in the store (a job's ``page_id``; in
Notion also the page's URL), by the id of the create job that filed it (both stores keep
it), or by a modify job's id (its job record names the recipe it changed).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

from batchcook.config import Settings
from batchcook.errors import BatchcookError
from batchcook.inputs import InputError, check_notion_id
from batchcook.jobs import Job
from batchcook.recipes.jsonld import recipe_jsonld
from batchcook.recipes.markdown import recipe_markdown
from batchcook.recipes.notion_mapping import Cover
from batchcook.recipes.printable import data_uri, recipe_html
from batchcook.recipes.schema import Recipe
from batchcook.stores.base import Image, RecipeNotFound, StoreError
from batchcook.stores.local import LocalStore
from batchcook.stores.notion import NotionStore

Format = Literal["jsonld", "markdown", "html"]
FORMATS: tuple[Format, ...] = ("jsonld", "markdown", "html")

#: A job id → the recipe id its record names (None when there is no such job or recipe).
#: Blocking: it is called in a thread, outside the event loop.
JobLookup = Callable[[str], str | None]

#: Either store export reads from.
Store = LocalStore | NotionStore


class ExportError(BatchcookError):
    """The export cannot be made; the message says why and what to do. ``exit_code`` is 2
    for an id that names nothing or a setting to fix (like other bad input), 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def _no_image() -> Image | None:
    return None


@dataclass(frozen=True)
class Source:
    """A recipe found for export, with its photo in the forms the formats need: a file on
    disk (local store) or a link (a Notion cover) to point at, and the bytes — fetched only
    by ``load_image``, since only the HTML page inlines them."""

    id: str
    recipe: Recipe
    image_file: Path | None = None
    cover: Cover | None = None
    load_image: Callable[[], Awaitable[Image | None]] = field(default=_no_image, repr=False)


@dataclass(frozen=True)
class Exported:
    """The text to write, and notes for the user (standard error) about what it links."""

    text: str
    notes: list[str] = field(default_factory=list)


def open_store(settings: Settings) -> Store:
    """The store the jobs file recipes in, refusing the cases where it cannot hold any."""
    if settings.notion_token is not None:
        try:
            return NotionStore.from_settings(settings)
        except StoreError as error:  # the database id is missing
            raise ExportError(str(error), exit_code=2) from None
    if not (settings.data_dir / "recipes.sqlite3").exists():
        raise ExportError(
            f"no local store in {settings.data_dir.resolve()} (nothing was filed there): set "
            "BATCHCOOK_DATA_DIR to the data dir your jobs ran with, or NOTION_TOKEN and "
            "NOTION_RECIPES_DATABASE_ID if they filed recipes in Notion.",
            exit_code=2,
        )
    return LocalStore(settings.data_dir)


#: Reads job records: (settings, job ids, status, limit) → the jobs found.
JobReader = Callable[[Settings, list[str], str | None, int], list[Job]]


def modify_job_recipe(settings: Settings, read_jobs: JobReader) -> JobLookup:
    """Looks a modify job's record up on the system database with ``read_jobs`` (which
    starts DBOS, so it is called only for ids that need it: create jobs are found in the
    store itself)."""

    def lookup(job_id: str) -> str | None:
        try:
            found = read_jobs(settings, [job_id], None, 1)
        except Exception as error:  # an unreachable database, a bad URL: one line says which
            reason = (str(error).splitlines() or [type(error).__name__])[0]
            raise ExportError(
                f"cannot read job {job_id!r} from the system database ({reason}); "
                "pass the recipe id instead."
            ) from error
        return found[0].page_id if found else None

    return lookup


def _page_id(ident: str) -> str | None:
    """A Notion page id (dashed, as Notion answers) from an id or a page URL, else None."""
    try:
        found = check_notion_id(ident, "ID")
    except InputError:
        return None
    return None if found is None else str(uuid.UUID(found))


async def load(store: Store, recipe_id: str) -> Source:
    """The recipe ``recipe_id`` names in ``store``; ``RecipeNotFound`` when there is none."""
    if isinstance(store, LocalStore):
        return Source(
            recipe_id,
            await store.read(recipe_id),
            image_file=await store.image_file(recipe_id),
            load_image=partial(store.read_image, recipe_id),
        )
    page_id = _page_id(recipe_id)
    if page_id is None:
        raise RecipeNotFound(f"{recipe_id!r} is not a Notion page id or URL.")
    recipe, cover = await store.read_page(page_id)
    fetch = partial(store.download, cover) if cover is not None else _no_image
    return Source(page_id, recipe, cover=cover, load_image=fetch)


def _where(store: Store) -> str:
    if isinstance(store, LocalStore):
        return f"in the local store at {store.data_dir.resolve()}"
    return f"in the Notion recipes database {store.database_id}"


def _reason(error: RecipeNotFound) -> str:
    """The store's sentence on why a page is not a recipe, without Notion's own echo of it."""
    return re.sub(r"\s*\[Notion [^\]]*\]", "", str(error)).strip().rstrip(".")


async def find_recipe(store: Store, ident: str, job_recipe: JobLookup) -> Source:
    """The recipe ``ident`` names (see the module docstring). Job records are read only
    for modify jobs; an id that names nothing is an ``ExportError`` (exit 2) saying why:
    a page that is not shared, in the trash or in another database says so."""
    ident = ident.strip()
    reasons: list[str] = []

    async def attempt(recipe_id: str, *, say_why: bool = True) -> Source | None:
        try:
            return await load(store, recipe_id)
        except RecipeNotFound as error:
            if say_why:
                reasons.append(_reason(error))
            return None

    # Any string may be a local id; in Notion only an id or URL is worth a "why not".
    in_notion = not isinstance(store, LocalStore)
    found = await attempt(ident, say_why=in_notion and bool(_page_id(ident)))
    if found is None:
        stored = await store.find_by_job(ident)
        if stored is not None:
            found = await attempt(stored.id)
    if found is None and ident.startswith("modify-"):
        recipe_id = await asyncio.to_thread(job_recipe, ident)  # DBOS starts outside a loop
        if recipe_id:
            found = await attempt(recipe_id)
    if found is not None:
        return found
    why = f" ({'; '.join(reasons)})" if reasons else ""
    named = "a recipe page's id or URL" if in_notion else "a recipe id"
    raise ExportError(
        f"no recipe {ident!r} {_where(store)}{why}: pass {named}, or the id of the job "
        "that made it (`batchcook jobs` lists jobs; a job's page_id is its recipe's id).",
        exit_code=2,
    )


def _image_link(source: Source, output: Path | None, image_url: str | None) -> str | None:
    """Where the Markdown points for the photo: the published URL when given, Notion's
    cover link, or the local file relative to ``output`` (or the working directory)."""
    if image_url is not None:
        return image_url
    if source.cover is not None:
        return source.cover.url
    if source.image_file is None:
        return None
    base = output.resolve().parent if output is not None else Path.cwd()
    return Path(os.path.relpath(source.image_file.resolve(), base)).as_posix()


def _absolute_image_url(source: Source, image_url: str | None) -> str | None:
    if image_url is not None:
        return image_url
    if source.cover is not None:
        return source.cover.url
    return source.image_file.resolve().as_uri() if source.image_file is not None else None


async def render(
    source: Source, fmt: Format, *, output: Path | None, image_url: str | None = None
) -> str:
    """The recipe in ``fmt``. Links to the image are made for where the text will live: the
    Markdown's relative to ``output`` (or the working directory when printed), the JSON-LD's
    absolute (``image_url``, else the Notion cover's URL or the image file's ``file://``
    URI), the page's inline."""
    if fmt == "markdown":
        return recipe_markdown(source.recipe, image_path=_image_link(source, output, image_url))
    link = _absolute_image_url(source, image_url)
    try:
        data = recipe_jsonld(source.recipe, image_url=link)
    except ValueError:
        raise ExportError(
            f"--image-url {link!r} is not an absolute URL: give the full address the "
            "image is published at, e.g. https://example.com/carbonara.jpg",
            exit_code=2,
        ) from None
    if fmt == "jsonld":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    image = await source.load_image()
    src = data_uri(image.data, image.content_type) if image is not None else None
    return recipe_html(source.recipe, jsonld=data, image_src=src)


def _notes(source: Source, fmt: Format, image_url: str | None) -> list[str]:
    """A Notion-hosted photo's link works only for about an hour: say so when the text
    links it, so nobody publishes a link that is about to break."""
    cover = source.cover
    if fmt == "html" or image_url is not None or cover is None or cover.expires is None:
        return []
    return [
        f"the image link is Notion's and expires at {cover.expires}: pass --image-url with "
        "the address you publish the photo at, or use --format html (the photo inlined)"
    ]


async def export_recipe(
    settings: Settings,
    ident: str,
    fmt: Format,
    *,
    output: Path | None = None,
    image_url: str | None = None,
    job_recipe: JobLookup,
) -> Exported:
    """The whole export: find the recipe ``ident`` names in the configured store (or, for a
    modify job's id, through ``job_recipe``) and render it. Every failure is an
    ``ExportError`` with one line for the user."""
    try:
        async with open_store(settings) as store:
            source = await find_recipe(store, ident, job_recipe)
            text = await render(source, fmt, output=output, image_url=image_url)
    except StoreError as error:  # Notion refused or failed: its message says what to do
        raise ExportError(" ".join(str(error).split())) from error
    return Exported(text, _notes(source, fmt, image_url))
