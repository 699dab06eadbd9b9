"""The store contract: the same tests against the Notion store (through notion-client and
the emulator, over HTTP) and the local store."""

from __future__ import annotations

import pytest

from batchcook.recipes.fixtures import carbonara
from batchcook.recipes.notion_mapping import normalise_for_notion
from batchcook.recipes.schema import Ingredient
from batchcook.stores.base import Image, RecipeNotFound, RecipeStore


def modified(recipe_title: str = "Pasta Carbonara with Peas") -> object:
    return carbonara().model_copy(
        update={
            "title": recipe_title,
            "cook_time": 18,
            "diet": [],
            "ingredients": [
                *carbonara().ingredients,
                Ingredient(ingredient="Peas", quantity="100 g"),
            ],
            "instructions": ["Cook everything.", "Stir in the peas."],
            "calories": 655.5,
            "change_description": "Added peas for sweetness.",
        }
    )


async def test_read_back_equals_what_was_written(store: RecipeStore, photo: Image) -> None:
    recipe = carbonara()
    stored = await store.create(recipe, photo, job_id="job-1")
    assert stored.id and stored.url and stored.job_id == "job-1"
    assert await store.read(stored.id) == normalise_for_notion(recipe)
    assert await store.read_image(stored.id) == photo


async def test_create_tells_the_user_the_recipe_is_ready(store: RecipeStore) -> None:
    stored = await store.create(carbonara(), None, job_id="job-1")
    [comment] = await store.comments(stored.id)
    assert "Pasta Carbonara" in comment and "ready" in comment
    assert await store.read_image(stored.id) is None


async def test_create_is_idempotent_per_job(store: RecipeStore, photo: Image) -> None:
    first = await store.create(carbonara(), photo, job_id="job-7")
    again = await store.create(carbonara(), photo, job_id="job-7")
    other = await store.create(carbonara(), photo, job_id="job-8")
    assert again.id == first.id
    assert other.id != first.id
    assert await store.find_by_job("job-7") == first
    assert await store.find_by_job("job-unknown") is None
    assert len(await store.comments(first.id)) == 1


async def test_update_replaces_fields_body_and_cover_and_comments(
    store: RecipeStore, photo: Image, other_photo: Image
) -> None:
    stored = await store.create(carbonara(), photo, job_id="job-1")
    change = modified()
    updated = await store.update(stored.id, change, other_photo)  # type: ignore[arg-type]
    assert updated.id == stored.id and updated.job_id == "job-1"
    assert await store.read(stored.id) == normalise_for_notion(change)  # type: ignore[arg-type]
    assert await store.read_image(stored.id) == other_photo
    comments = await store.comments(stored.id)
    assert len(comments) == 2 and "Added peas for sweetness." in comments[1]
    assert await store.find_by_job("job-1") == updated


async def test_update_without_image_keeps_the_cover(store: RecipeStore, photo: Image) -> None:
    stored = await store.create(carbonara(), photo, job_id="job-1")
    await store.update(stored.id, modified(), None)  # type: ignore[arg-type]
    assert await store.read_image(stored.id) == photo


async def test_comment(store: RecipeStore) -> None:
    stored = await store.create(carbonara(), None, job_id="job-1")
    await store.comment(stored.id, "Generation cost $0.02.")
    assert (await store.comments(stored.id))[-1].endswith("Generation cost $0.02.")


async def test_unknown_recipe(store: RecipeStore) -> None:
    missing = "5b0a4c1e-0000-4000-8000-000000000000"
    with pytest.raises(RecipeNotFound):
        await store.read(missing)
    with pytest.raises(RecipeNotFound):
        await store.update(missing, carbonara(), None)
