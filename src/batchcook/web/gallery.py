"""What the gallery shows, as pure functions: search and filters over the listed recipes,
the facets to offer, and durations people read ("1 h 15 min").

Kept apart from the routes so the rules (what a search matches, how filters combine) are
tested without a server or a browser.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import get_args

from batchcook.recipes.schema import MealType, Recipe
from batchcook.stores.local import ListedRecipe

MEAL_TYPES: tuple[str, ...] = get_args(MealType)


@dataclass(frozen=True)
class Query:
    """The gallery's query string: free text, one meal type, one diet tag ("" for any)."""

    text: str = ""
    meal: str = ""
    diet: str = ""

    @property
    def active(self) -> bool:
        return bool(self.text or self.meal or self.diet)


def _fold(text: str) -> str:
    """Case-insensitive and blind to spacing, so "gluten free" finds "Gluten-free"."""
    return " ".join(text.casefold().replace("-", " ").split())


def matches(recipe: Recipe, query: Query) -> bool:
    """Text matches the title or any ingredient name (every word must appear somewhere:
    "egg pasta" finds a carbonara); meal and diet must be among the recipe's tags."""
    if query.meal and _fold(query.meal) not in {_fold(m) for m in recipe.meal_type}:
        return False
    if query.diet and _fold(query.diet) not in {_fold(d) for d in recipe.diet}:
        return False
    words = _fold(query.text).split()
    if not words:
        return True
    haystack = [_fold(recipe.title), *(_fold(i.ingredient) for i in recipe.ingredients)]
    return all(any(word in text for text in haystack) for word in words)


def search(entries: Iterable[ListedRecipe], query: Query) -> list[ListedRecipe]:
    """The entries that match, in the order given (the store's: newest first)."""
    return [entry for entry in entries if matches(entry.recipe, query)]


def diet_options(entries: Sequence[ListedRecipe]) -> list[str]:
    """Every diet tag in the store, spelled as first seen, sorted: the diet filter offers
    what exists rather than a fixed list the model's tags would not match."""
    seen: dict[str, str] = {}
    for entry in entries:
        for tag in entry.recipe.diet:
            if tag.strip():
                seen.setdefault(_fold(tag), tag.strip())
    return sorted(seen.values(), key=str.casefold)


def minutes(value: int) -> str:
    """25 → "25 min", 75 → "1 h 15 min", 0 → "–" (zero means none in the model)."""
    if value <= 0:
        return "–"
    hours, rest = divmod(value, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def number(value: float) -> str:
    """620.0 → "620", 27.5 → "27.5": nutrition without trailing zeros."""
    return f"{value:g}"


#: What a person reads for each job status (the API's words are for programs).
STATUS_LABELS: dict[str, str] = {
    "queued": "Queued",
    "submitted": "Submitted to OpenAI",
    "generating": "Generating",
    "waiting": "Waiting for OpenAI",
    "writing": "Writing the recipe",
    "succeeded": "Ready",
    "failed": "Failed",
}

#: Batch endpoints as parts of a recipe.
ENDPOINT_LABELS: dict[str, str] = {
    "/v1/responses": "Recipe text",
    "/v1/images/generations": "Photo",
}
