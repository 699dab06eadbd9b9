"""The gallery's pure rules: what a search matches, the diet options, readable durations."""

from __future__ import annotations

import pytest

from batchcook.recipes.fixtures import carbonara, lemon_tart, shakshuka
from batchcook.recipes.schema import Recipe
from batchcook.stores.local import ListedRecipe
from batchcook.web.gallery import Query, diet_options, matches, minutes, number
from batchcook.web.routes import web_link


def listed(*recipes: Recipe) -> list[ListedRecipe]:
    return [ListedRecipe(str(i), r, None, "t", "t", None) for i, r in enumerate(recipes)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (Query(), True),
        (Query(text="  pasta  "), True),
        (Query(text="pecorino pepper"), True),
        (Query(text="pecorino tofu"), False),
        (Query(meal="dinner"), True),
        (Query(meal="Dessert"), False),
        (Query(diet="high protein"), True),
        (Query(diet="Vegan"), False),
    ],
)
def test_matches(query: Query, expected: bool) -> None:
    assert matches(carbonara(), query) is expected


def test_diet_options_are_each_tag_once_sorted() -> None:
    odd = shakshuka().model_copy(update={"diet": ["gluten free", " ", "vegetarian"]})
    entries = listed(carbonara(), shakshuka(), lemon_tart(), odd)
    assert diet_options(entries) == ["Gluten-free", "High-protein", "Vegetarian"]


@pytest.mark.parametrize(
    ("value", "text"), [(0, "–"), (-5, "–"), (25, "25 min"), (60, "1 h"), (75, "1 h 15 min")]
)
def test_minutes(value: int, text: str) -> None:
    assert minutes(value) == text


def test_number_and_web_link() -> None:
    assert (number(620.0), number(27.5)) == ("620", "27.5")
    assert web_link("https://www.notion.so/x") == "https://www.notion.so/x"
    assert web_link("javascript:alert(1)") is None and web_link(None) is None
