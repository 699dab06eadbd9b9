"""The embedded store: SQLite for recipes and comments, image files beside it.

Used when no Notion token is set, so batchcook works with nothing to sign up for. Layout
under ``BATCHCOOK_DATA_DIR``: ``recipes.sqlite3``, ``images/<id>.<ext>`` and
``recipes/<id>.md`` (the recipe as text, rewritten on every change, to open in any editor;
it shows the image through a relative link, ``../images/<id>.<ext>``, so any Markdown
viewer finds it and the data dir can move).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from batchcook.recipes.markdown import recipe_markdown
from batchcook.recipes.schema import Recipe
from batchcook.stores.base import (
    IMAGE_EXTENSIONS,
    ClosedOnExit,
    Image,
    RecipeNotFound,
    StoredRecipe,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recipes (
    id TEXT PRIMARY KEY,
    job_id TEXT UNIQUE,
    recipe TEXT NOT NULL,
    image_type TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS comments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    recipe_id TEXT NOT NULL REFERENCES recipes(id),
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class ListedRecipe:
    """One recipe as a listing shows it: the recipe, whether it has a photo and when it was
    filed (so a gallery can put the newest first without reading every file)."""

    id: str
    recipe: Recipe
    image_type: str | None
    created_at: str
    updated_at: str
    job_id: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class LocalStore(ClosedOnExit):
    """The ``RecipeStore`` on local disk. Ids are UUIDs, stable for the recipe's life."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.images = self.data_dir / "images"
        self.texts = self.data_dir / "recipes"
        for folder in (self.data_dir, self.images, self.texts):
            folder.mkdir(parents=True, exist_ok=True)
        self.db_path = self.data_dir / "recipes.sqlite3"
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.data_dir)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection per call, committed on success and always closed."""
        db = sqlite3.connect(self.db_path, timeout=30)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            with db:
                yield db
        finally:
            db.close()

    async def _run(self, fn: Callable[[], T]) -> T:
        """SQLite and file I/O off the event loop."""
        return await asyncio.to_thread(fn)

    def url(self, recipe_id: str) -> str:
        return self.path(recipe_id).resolve().as_uri()

    def path(self, recipe_id: str) -> Path:
        """The recipe as a Markdown file (exists once the recipe does)."""
        return self.texts / f"{recipe_id}.md"

    def image_path(self, recipe_id: str, image: Image) -> Path:
        return self._image_file(recipe_id, image.content_type)

    def _image_file(self, recipe_id: str, image_type: str) -> Path:
        return self.images / f"{recipe_id}.{IMAGE_EXTENSIONS[image_type]}"

    def _markdown(self, recipe_id: str, recipe: Recipe, image_type: str | None) -> str:
        link = None
        if image_type is not None:
            image = self._image_file(recipe_id, image_type)
            link = Path(os.path.relpath(image, self.path(recipe_id).parent)).as_posix()
        return recipe_markdown(recipe, image_path=link)

    def _write_files(
        self, recipe_id: str, recipe: Recipe, image: Image | None, old_type: str | None = None
    ) -> str | None:
        """Write the image (when given) and the Markdown; the image type now on file."""
        image_type = old_type
        if image is not None:
            for old in self.images.glob(f"{recipe_id}.*"):
                old.unlink()
            target = self.image_path(recipe_id, image)
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(image.data)
            tmp.replace(target)
            image_type = image.content_type
        markdown = self._markdown(recipe_id, recipe, image_type)
        self.path(recipe_id).write_text(markdown, encoding="utf-8")
        return image_type

    def _row(self, db: sqlite3.Connection, recipe_id: str) -> tuple[str, str | None, str | None]:
        row = db.execute(
            "SELECT recipe, image_type, job_id FROM recipes WHERE id = ?", (recipe_id,)
        ).fetchone()
        if row is None:
            raise RecipeNotFound(f"No recipe {recipe_id!r} in the local store at {self.data_dir}.")
        return row[0], row[1], row[2]

    async def create(self, recipe: Recipe, image: Image | None, *, job_id: str) -> StoredRecipe:
        def work() -> StoredRecipe:
            stored = recipe.model_copy(update={"change_description": None})
            with self._connect() as db:
                row = db.execute("SELECT id FROM recipes WHERE job_id = ?", (job_id,)).fetchone()
                if row is not None:
                    return StoredRecipe(row[0], self.url(row[0]), job_id)
                recipe_id = str(uuid.uuid4())
                image_type = self._write_files(recipe_id, stored, image)
                db.execute(
                    "INSERT INTO recipes VALUES (?, ?, ?, ?, ?, ?)",
                    (recipe_id, job_id, stored.model_dump_json(), image_type, _now(), _now()),
                )
                db.execute(
                    "INSERT INTO comments (recipe_id, text, created_at) VALUES (?, ?, ?)",
                    (recipe_id, f"Your recipe “{recipe.title}” is ready.", _now()),
                )
            return StoredRecipe(recipe_id, self.url(recipe_id), job_id)

        return await self._run(work)

    async def update(self, recipe_id: str, recipe: Recipe, image: Image | None) -> StoredRecipe:
        def work() -> StoredRecipe:
            stored = recipe.model_copy(update={"change_description": None})
            with self._connect() as db:
                _, old_type, job_id = self._row(db, recipe_id)
                image_type = self._write_files(recipe_id, stored, image, old_type)
                db.execute(
                    "UPDATE recipes SET recipe = ?, image_type = ?, updated_at = ? WHERE id = ?",
                    (stored.model_dump_json(), image_type, _now(), recipe_id),
                )
                what = recipe.change_description or "The recipe was updated."
                db.execute(
                    "INSERT INTO comments (recipe_id, text, created_at) VALUES (?, ?, ?)",
                    (recipe_id, f"Updated “{recipe.title}”: {what}", _now()),
                )
            return StoredRecipe(recipe_id, self.url(recipe_id), job_id)

        return await self._run(work)

    async def read(self, recipe_id: str) -> Recipe:
        def work() -> Recipe:
            with self._connect() as db:
                return Recipe.model_validate_json(self._row(db, recipe_id)[0])

        return await self._run(work)

    def _image_type(self, recipe_id: str) -> str | None:
        with self._connect() as db:
            return self._row(db, recipe_id)[1]

    async def read_image(self, recipe_id: str) -> Image | None:
        def work() -> Image | None:
            image_type = self._image_type(recipe_id)
            if image_type is None:
                return None
            return Image(self._image_file(recipe_id, image_type).read_bytes(), image_type)

        return await self._run(work)

    async def image_file(self, recipe_id: str) -> Path | None:
        """Where the recipe's image is on disk (to link to it), or None without one."""

        def work() -> Path | None:
            image_type = self._image_type(recipe_id)
            return None if image_type is None else self._image_file(recipe_id, image_type)

        return await self._run(work)

    async def list_recipes(self) -> list[ListedRecipe]:
        """Every recipe, newest first (by filing time, then by insertion order for recipes
        filed in the same second). A local store holds one person's recipes, so reading
        them all and filtering in Python is cheaper than a query language of our own."""

        def work() -> list[ListedRecipe]:
            with self._connect() as db:
                rows = db.execute(
                    "SELECT id, recipe, image_type, created_at, updated_at, job_id FROM recipes"
                    " ORDER BY created_at DESC, rowid DESC"
                ).fetchall()
            return [
                ListedRecipe(row[0], Recipe.model_validate_json(row[1]), *row[2:]) for row in rows
            ]

        return await self._run(work)

    async def find_by_job(self, job_id: str) -> StoredRecipe | None:
        def work() -> StoredRecipe | None:
            with self._connect() as db:
                row = db.execute("SELECT id FROM recipes WHERE job_id = ?", (job_id,)).fetchone()
            return None if row is None else StoredRecipe(row[0], self.url(row[0]), job_id)

        return await self._run(work)

    async def comment(self, recipe_id: str, text: str) -> None:
        def work() -> None:
            with self._connect() as db:
                self._row(db, recipe_id)
                db.execute(
                    "INSERT INTO comments (recipe_id, text, created_at) VALUES (?, ?, ?)",
                    (recipe_id, text, _now()),
                )

        await self._run(work)

    async def comments(self, recipe_id: str) -> list[str]:
        def work() -> list[str]:
            with self._connect() as db:
                self._row(db, recipe_id)
                rows = db.execute(
                    "SELECT text FROM comments WHERE recipe_id = ? ORDER BY seq", (recipe_id,)
                ).fetchall()
            return [row[0] for row in rows]

        return await self._run(work)

    async def text(self, recipe_id: str) -> str:
        """The recipe as Markdown (what ``path`` holds)."""

        def work() -> str:
            with self._connect() as db:
                recipe, image_type, _ = self._row(db, recipe_id)
            return self._markdown(recipe_id, Recipe.model_validate_json(recipe), image_type)

        return await self._run(work)

    async def aclose(self) -> None:
        """Nothing held open: each call uses its own connection."""
