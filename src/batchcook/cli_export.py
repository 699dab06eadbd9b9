"""What ``batchcook export`` does: one recipe from the local store as JSON-LD, Markdown or a
printable HTML page, kept out of ``cli.py``.

A recipe is named the way the user met it: by its id in the store (a job's ``page_id``), by
the id of the create job that filed it (the store keeps it), or by a modify job's id (its job
record names the recipe it changed).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from batchcook.config import Settings
from batchcook.recipes.jsonld import recipe_jsonld
from batchcook.recipes.markdown import recipe_markdown
from batchcook.recipes.printable import data_uri, recipe_html
from batchcook.stores.base import RecipeNotFound
from batchcook.stores.local import LocalStore

Format = Literal["jsonld", "markdown", "html"]
FORMATS: tuple[Format, ...] = ("jsonld", "markdown", "html")

#: A job id → the recipe id its record names (None when there is no such job or recipe).
#: Blocking: it is called in a thread, outside the event loop.
JobLookup = Callable[[str], str | None]


class ExportError(Exception):
    """The export cannot be made; the message says why and what to do. ``exit_code`` is 2
    for an id that names nothing (like other bad input), 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def open_local_store(settings: Settings) -> LocalStore:
    """The local store to read, refusing the cases where it cannot hold the recipe."""
    if settings.notion_token is not None:
        raise ExportError(
            "export reads the local store, but NOTION_TOKEN is set, so your recipes are in "
            "Notion and reading them back from there is not built yet: open the page in "
            "Notion (••• → Export), or unset NOTION_TOKEN to export from the local store in "
            f"{settings.data_dir.resolve()}."
        )
    if not (settings.data_dir / "recipes.sqlite3").exists():
        raise ExportError(
            f"no local store in {settings.data_dir.resolve()} (nothing was filed there): set "
            "BATCHCOOK_DATA_DIR to the data dir your jobs ran with.",
            exit_code=2,
        )
    return LocalStore(settings.data_dir)


def modify_job_recipe(settings: Settings) -> JobLookup:
    """Looks a modify job's record up on the system database (starting DBOS, so only for
    ids that need it: create jobs are found in the store itself)."""

    def lookup(job_id: str) -> str | None:
        from batchcook.cli_jobs import read_jobs_local

        try:
            found = read_jobs_local(settings, job_id, None, 1)
        except Exception as error:  # an unreachable database, a bad URL: one line says which
            reason = (str(error).splitlines() or [type(error).__name__])[0]
            raise ExportError(
                f"cannot read job {job_id!r} from the system database ({reason}); "
                "pass the recipe id instead."
            ) from error
        return found[0].page_id if found else None

    return lookup


async def find_recipe(store: LocalStore, ident: str, job_recipe: JobLookup) -> str:
    """The store's id for the recipe ``ident`` names (see the module docstring)."""
    ident = ident.strip()
    try:
        await store.read(ident)
        return ident
    except RecipeNotFound:
        pass
    stored = await store.find_by_job(ident)
    if stored is not None:
        return stored.id
    if ident.startswith("modify-"):
        recipe_id = await asyncio.to_thread(job_recipe, ident)  # DBOS starts outside a loop
        if recipe_id:
            try:
                await store.read(recipe_id)
                return recipe_id
            except RecipeNotFound:
                pass
    raise ExportError(
        f"no recipe {ident!r} in the local store at {store.data_dir.resolve()}: pass a "
        "recipe id or the id of the job that made it (`batchcook jobs` lists jobs; a "
        "job's page_id is its recipe's id).",
        exit_code=2,
    )


async def render(
    store: LocalStore,
    recipe_id: str,
    fmt: Format,
    *,
    output: Path | None,
    image_url: str | None = None,
) -> str:
    """The recipe in ``fmt``. Links to the image are made for where the text will live: the
    Markdown's relative to ``output`` (or the working directory when printed), the JSON-LD's
    absolute (``image_url``, else the image file's ``file://`` URI), the page's inline."""
    recipe = await store.read(recipe_id)
    image_file = await store.image_file(recipe_id)
    if fmt == "markdown":
        link = None
        if image_file is not None:
            base = output.resolve().parent if output is not None else Path.cwd()
            link = Path(os.path.relpath(image_file.resolve(), base)).as_posix()
        return recipe_markdown(recipe, image_path=link)
    if image_url is None and image_file is not None:
        image_url = image_file.resolve().as_uri()
    try:
        data = recipe_jsonld(recipe, image_url=image_url)
    except ValueError:
        raise ExportError(
            f"--image-url {image_url!r} is not an absolute URL: give the full address the "
            "image is published at, e.g. https://example.com/carbonara.jpg",
            exit_code=2,
        ) from None
    if fmt == "jsonld":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    image = await store.read_image(recipe_id)
    src = data_uri(image.data, image.content_type) if image is not None else None
    return recipe_html(recipe, jsonld=data, image_src=src)
