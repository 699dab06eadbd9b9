"""Recipe → schema.org ``Recipe`` JSON-LD, as pure functions.

JSON-LD is what recipe managers (Mealie, Tandoor, Paprika, …) and search engines read from a
page, so a recipe exported this way imports anywhere without a custom format. The mapping,
field by field, and why:

- ``title`` → ``name``; ``description`` → ``description``; ``tldr`` → ``abstract`` (schema.org's
  "short description that summarizes a CreativeWork"; importers ignore it, nothing is lost).
- ``ingredients`` → ``recipeIngredient`` as one string each ("400 g Spaghetti"), the form
  ingredient parsers expect; a quantity that is not an amount reads after the name
  ("Salt, to taste").
- ``preparation`` then ``instructions`` → ``recipeInstructions``: one flat list of
  ``HowToStep``. Not ``HowToSection``s: Mealie imports a section's name as a step of its own
  ("Preparation" would become step 1, mealie-recipes/mealie#6887), and the order already says
  that preparation comes first.
- ``prep_time``/``cook_time`` (minutes) → ``prepTime``/``cookTime`` and their sum →
  ``totalTime`` as ISO 8601 durations; zero means "none", so it is left out.
- ``serving_size`` → ``recipeYield``; ``country`` → ``recipeCuisine`` (the model gives a
  country, which is the cuisine's name in the only field importers read for it);
  ``meal_type`` → ``recipeCategory``.
- ``diet`` → ``suitableForDiet`` for tags that name a schema.org ``RestrictedDiet``; every diet
  tag, the protein types and the allergens ("contains Egg") → ``keywords``, which importers
  turn into tags.
- ``calories``/``protein``/``carbs``/``fat``/``fiber`` and the ``other_nutrition`` items
  schema.org has a property for (sodium, sugar, cholesterol, saturated/trans/unsaturated
  fat) → ``nutrition`` (``NutritionInformation``, per serving, as "620 kcal" and "27.5 g").
  Other items (vitamins, …) have no property, and an amount that is not "<number> <unit>"
  ("a pinch") is no ``Mass``: both are left out.
- ``difficulty`` has no schema.org property and a bare "Medium" keyword would mislead, so it
  is left out; ``change_description`` is never stored.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from batchcook.recipes.schema import Ingredient, Recipe

SCHEMA_ORG = "https://schema.org"

#: The schema.org ``RestrictedDiet`` members, keyed by the diet tags that mean them
#: (lower case, without spaces or hyphens: "Gluten-free" and "gluten free" both match).
RESTRICTED_DIETS: dict[str, str] = {
    "diabetic": "DiabeticDiet",
    "diabeticfriendly": "DiabeticDiet",
    "glutenfree": "GlutenFreeDiet",
    "halal": "HalalDiet",
    "hindu": "HinduDiet",
    "kosher": "KosherDiet",
    "lowcalorie": "LowCalorieDiet",
    "lowfat": "LowFatDiet",
    "lowlactose": "LowLactoseDiet",
    "lactosefree": "LowLactoseDiet",
    "lowsalt": "LowSaltDiet",
    "lowsodium": "LowSaltDiet",
    "vegan": "VeganDiet",
    "vegetarian": "VegetarianDiet",
}

#: ``other_nutrition`` item names (normalised as for diets) → NutritionInformation property.
NUTRIENTS: dict[str, str] = {
    "sodium": "sodiumContent",
    "sugar": "sugarContent",
    "sugars": "sugarContent",
    "cholesterol": "cholesterolContent",
    "saturatedfat": "saturatedFatContent",
    "transfat": "transFatContent",
    "unsaturatedfat": "unsaturatedFatContent",
}

_AMOUNT = re.compile(r"^[\d½⅓⅔¼¾⅛⅜⅝⅞.,/]")
#: A mass as schema.org's ``Mass`` wants it, "<Number> <unit>"; the model writes "900mg" too.
_MASS = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(mg|g|kg|mcg|µg|μg)$", re.IGNORECASE)


def _key(tag: str) -> str:
    return re.sub(r"[\s_-]+", "", tag).lower()


def iso_duration(minutes: int) -> str:
    """Minutes as an ISO 8601 duration: ``PT15M``, ``PT1H30M``, ``PT2H``."""
    if minutes < 0:
        raise ValueError(f"a duration cannot be negative: {minutes} minutes")
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"PT{rest}M"
    return f"PT{hours}H{rest}M" if rest else f"PT{hours}H"


def _number(value: float) -> str:
    """620.0 → "620", 27.25 → "27.3": no exponent, no trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def ingredient_line(item: Ingredient) -> str:
    """One ``recipeIngredient`` string, amount first when there is one."""
    name, quantity = item.ingredient.strip(), item.quantity.strip()
    if not quantity:
        return name
    if _AMOUNT.match(quantity):
        return f"{quantity} {name}".rstrip()
    return f"{name}, {quantity}"


def restricted_diets(diet: list[str]) -> list[str]:
    """The schema.org ``RestrictedDiet`` URLs the diet tags name, in order, once each."""
    found = (RESTRICTED_DIETS.get(_key(tag)) for tag in diet)
    members = dict.fromkeys(m for m in found if m is not None)
    return [f"{SCHEMA_ORG}/{member}" for member in members]


def _keywords(recipe: Recipe) -> str:
    words = [*recipe.diet, *(p for p in recipe.protein_type if p != "None")]
    words += [f"contains {allergen}" for allergen in recipe.allergies]
    unique = dict.fromkeys(w.replace(",", " ").strip() for w in words)
    return ", ".join(w for w in unique if w)


def _nutrition(recipe: Recipe) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "@type": "NutritionInformation",
        "calories": f"{_number(recipe.calories)} kcal",
        "proteinContent": f"{_number(recipe.protein)} g",
        "carbohydrateContent": f"{_number(recipe.carbs)} g",
        "fatContent": f"{_number(recipe.fat)} g",
        "fiberContent": f"{_number(recipe.fiber)} g",
    }
    for item in recipe.other_nutrition:
        prop = NUTRIENTS.get(_key(item.item))
        mass = _MASS.match(item.quantity.strip())
        if prop is not None and mass is not None:
            amount, unit = mass.groups()
            facts.setdefault(prop, f"{amount.replace(',', '.')} {unit.lower()}")
    return facts


def _check_absolute(url: str, what: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not (parts.netloc or parts.scheme in ("file", "data")):
        raise ValueError(f"{what} must be an absolute URL (https://…), not {url!r}")
    return url


def recipe_jsonld(
    recipe: Recipe, *, image_url: str | None, url: str | None = None
) -> dict[str, Any]:
    """The recipe as a schema.org ``Recipe`` object, ready for ``json.dumps``.

    ``image_url`` and ``url`` (the recipe's own page) must be absolute: an importer resolves
    a relative one against a page it does not have. Fields the recipe lacks are left out
    rather than given empty values, which importers would show as blanks.
    """
    data: dict[str, Any] = {"@context": SCHEMA_ORG, "@type": "Recipe", "name": recipe.title}
    if url:
        data["url"] = _check_absolute(url, "url")
    if recipe.description.strip():
        data["description"] = recipe.description.strip()
    if recipe.tldr.strip():
        data["abstract"] = recipe.tldr.strip()
    if image_url:
        data["image"] = _check_absolute(image_url, "image_url")
    prep, cook = max(recipe.prep_time, 0), max(recipe.cook_time, 0)
    for prop, minutes in (("prepTime", prep), ("cookTime", cook), ("totalTime", prep + cook)):
        if minutes:
            data[prop] = iso_duration(minutes)
    if recipe.serving_size.strip():
        data["recipeYield"] = recipe.serving_size.strip()
    if recipe.country.strip():
        data["recipeCuisine"] = recipe.country.strip()
    if recipe.meal_type:
        data["recipeCategory"] = list(recipe.meal_type)
    diets = restricted_diets(recipe.diet)
    if diets:
        data["suitableForDiet"] = diets
    keywords = _keywords(recipe)
    if keywords:
        data["keywords"] = keywords
    ingredients = [ingredient_line(i) for i in recipe.ingredients]
    if any(ingredients):
        data["recipeIngredient"] = [line for line in ingredients if line]
    steps = [s.strip() for s in (*recipe.preparation, *recipe.instructions) if s.strip()]
    if steps:
        data["recipeInstructions"] = [{"@type": "HowToStep", "text": s} for s in steps]
    data["nutrition"] = _nutrition(recipe)
    return data


_SCRIPT_UNSAFE = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def jsonld_script_tag(data: dict[str, Any]) -> str:
    """``data`` in a ``<script type="application/ld+json">`` element that no text can end.

    The HTML parser ends a script at the first ``</script`` whatever JSON thinks of it, so a
    recipe saying "</script><script>…" would run code on the page. ``<``, ``>`` and ``&`` are
    written as JSON ``\\u`` escapes instead: the same string to any JSON parser, no markup to
    an HTML one.
    """
    body = json.dumps(data, ensure_ascii=False, indent=2).translate(_SCRIPT_UNSAFE)
    return f'<script type="application/ld+json">\n{body}\n</script>'
