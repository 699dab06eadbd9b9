"""Recipe ⇄ Notion mapping: pure, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from batchcook.recipes import notion_mapping as m
from batchcook.recipes.fixtures import carbonara
from batchcook.recipes.markdown import recipe_markdown
from batchcook.recipes.schema import Ingredient, Recipe
from batchcook.testing.openai_emulator.fixtures import Fixture, shipped_fixtures


def as_returned(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Request rich text → the response shape Notion answers with."""
    return [
        {
            "plain_text": item["text"]["content"],
            "annotations": {"bold": bool(item.get("annotations", {}).get("bold"))},
        }
        for item in items
    ]


def page_of(recipe: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    props = {}
    for name, value in m.recipe_properties(recipe, job_id="job-1").items():
        kind = next(iter(value))
        inner = value[kind]
        if kind in ("title", "rich_text"):
            inner = as_returned(inner)
        props[name] = {"type": kind, kind: inner}
    blocks = [
        {"type": b["type"], b["type"]: {"rich_text": as_returned(b[b["type"]]["rich_text"])}}
        for b in m.recipe_blocks(recipe)
    ]
    return props, blocks


def test_round_trip_without_notion() -> None:
    recipe = carbonara()
    assert m.recipe_from_page(*page_of(recipe)) == m.normalise_for_notion(recipe)


def test_a_new_property_is_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer, the reader, the schema the database must have and the local store's
    Markdown all follow ``PROPERTIES``: a row added there shows up in all four."""
    row = m.Property("Servings Note", "rich_text", "serving_size")
    monkeypatch.setattr(m, "PROPERTIES", (*m.PROPERTIES, row))
    recipe = carbonara()
    assert m.required_schema()["Servings Note"] == "rich_text"
    written = m.recipe_properties(recipe)["Servings Note"]
    assert m.plain_text(written["rich_text"]) == recipe.serving_size
    props, blocks = page_of(recipe)
    props["Servings Note"]["rich_text"] = as_returned(m.rich_text("12 people"))
    assert m.recipe_from_page(props, blocks).serving_size == "12 people"  # read from the row
    assert f"- Servings Note: {recipe.serving_size}" in recipe_markdown(recipe).splitlines()


def test_every_rich_text_piece_within_2000_chars() -> None:
    recipe = carbonara().model_copy(update={"description": "x" * 4500})
    pieces = m.recipe_properties(recipe)["Description"]["rich_text"]
    assert [len(p["text"]["content"]) for p in pieces] == [2000, 2000, 500]
    assert m.recipe_from_page(*page_of(recipe)).description == "x" * 4500


def test_many_ingredients_stay_within_100_items_and_round_trip() -> None:
    ingredients = [Ingredient(ingredient=f"Spice {n}", quantity=f"{n} g") for n in range(80)]
    recipe = carbonara().model_copy(update={"ingredients": ingredients})
    runs = m.recipe_properties(recipe)[m.INGREDIENTS]["rich_text"]
    assert len(runs) <= 100
    assert m.recipe_from_page(*page_of(recipe)).ingredients == ingredients


def test_commas_in_tags_are_replaced_as_notion_requires() -> None:
    recipe = carbonara().model_copy(update={"diet": ["Low-fat, high-protein"]})
    assert m.recipe_properties(recipe)["Diet"] == {
        "multi_select": [{"name": "Low-fat; high-protein"}]
    }
    assert m.recipe_from_page(*page_of(recipe)) == m.normalise_for_notion(recipe)


def test_batches_respect_count_and_size() -> None:
    blocks = [{"type": "paragraph", "paragraph": {"rich_text": m.rich_text("y" * 1000)}}] * 250
    assert [len(g) for g in m.batches(blocks)] == [100, 100, 50]
    small = m.batches(blocks, first_budget=5000)
    assert len(small[0]) < 5 and sum(len(g) for g in small) == 250


def test_comment_mentions_the_user() -> None:
    items = m.ready_comment(carbonara(), "user-1")
    assert items[0] == {"type": "mention", "mention": {"type": "user", "user": {"id": "user-1"}}}
    assert "Pasta Carbonara" in m.plain_text(items)


@pytest.mark.parametrize("fixture", shipped_fixtures().fixtures, ids=lambda f: f.name)
def test_the_emulators_shipped_recipes_round_trip(fixture: Fixture) -> None:
    """What the demo files is what a modify reads back: no shipped recipe is altered by the
    page's shape (tags with commas, long texts)."""
    recipe = Recipe.model_validate(fixture.response)
    assert m.recipe_from_page(*page_of(recipe)) == m.normalise_for_notion(recipe) == recipe
