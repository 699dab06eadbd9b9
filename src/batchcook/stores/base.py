"""What every recipe store offers (Notion, local), and the errors it raises.

Workflows sequence side effects through this interface only, so a step can be retried: a
create carries the job id and first looks for the recipe that job already filed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Self, runtime_checkable

from batchcook.errors import BatchcookError
from batchcook.recipes.schema import Recipe

#: Image content types a store accepts, with the file extension it files them under.
IMAGE_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}


@dataclass(frozen=True)
class Image:
    """A recipe's photograph as bytes, with the content type the bytes are in."""

    data: bytes
    content_type: str

    def __post_init__(self) -> None:
        if self.content_type not in IMAGE_EXTENSIONS:
            allowed = ", ".join(IMAGE_EXTENSIONS)
            raise StoreError(f"unsupported image type {self.content_type!r}; use one of {allowed}")

    @property
    def extension(self) -> str:
        return IMAGE_EXTENSIONS[self.content_type]

    def __repr__(self) -> str:
        return f"Image({self.content_type}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class StoredRecipe:
    """Where a recipe lives: a stable ``id`` for later updates, and a link for people."""

    id: str
    url: str
    job_id: str | None = None


class StoreError(BatchcookError):
    """A store operation failed; the message says what to do about it."""


class RecipeNotFound(StoreError):
    """No recipe with this id in this store (or not one this store filed)."""


@runtime_checkable
class RecipeStore(Protocol):
    """The one interface the workflows use. Every method is safe to retry."""

    async def create(self, recipe: Recipe, image: Image | None, *, job_id: str) -> StoredRecipe:
        """File a new recipe, with ``image`` as its cover, and tell the user it is ready.
        A second call with the same ``job_id`` returns the recipe the first one filed."""
        ...

    async def update(self, recipe_id: str, recipe: Recipe, image: Image | None) -> StoredRecipe:
        """Replace the recipe's fields and body (and cover, when ``image`` is given) and
        comment with ``recipe.change_description``."""
        ...

    async def read(self, recipe_id: str) -> Recipe:
        """The recipe as stored; equal to what was written (``change_description`` aside)."""
        ...

    async def read_image(self, recipe_id: str) -> Image | None: ...

    async def find_by_job(self, job_id: str) -> StoredRecipe | None: ...

    async def comment(self, recipe_id: str, text: str) -> None: ...

    async def comments(self, recipe_id: str) -> list[str]:
        """The comments on the recipe, oldest first, as plain text."""
        ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self:
        """``async with store:`` closes it (the Notion store holds HTTP clients)."""
        ...

    async def __aexit__(self, *exc: object) -> None: ...


class ClosedOnExit:
    """``async with`` for a store: the store itself, closed on the way out."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        raise NotImplementedError


@runtime_checkable
class ShowsProgress(Protocol):
    """A store that can show a recipe on its way (Notion): a placeholder while the batches
    run, marked failed if the job fails. Checked with ``isinstance``; the local store has
    no page to show, and the workflows skip these steps for it."""

    async def placeholder(self, title: str, job_id: str, batch_ids: list[str]) -> StoredRecipe:
        """A page that says the recipe is coming; ``create`` with the job id fills it in."""
        ...

    async def mark_failed(self, job_id: str, reason: str) -> None: ...


@runtime_checkable
class TakesComments(Protocol):
    """A store whose pages take ``#modify`` comments through a webhook (Notion)."""

    async def read_comment(self, comment_id: str) -> tuple[str, str, str]:
        """(page id, plain text, author id) of a comment."""
        ...

    async def integration_id(self) -> str:
        """Our own user: comments it wrote must never trigger a modification."""
        ...

    async def is_recipe_page(self, page_id: str) -> bool: ...
