"""Recipe → schema.org JSON-LD: the mapping, its validity against schema.org's own
definitions, and its safety inside an HTML page."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schemaorg_validator import ENUMERATIONS, duration_minutes, validate

from batchcook.recipes.fixtures import carbonara
from batchcook.recipes.jsonld import (
    ingredient_line,
    iso_duration,
    jsonld_script_tag,
    recipe_jsonld,
    restricted_diets,
)
from batchcook.recipes.schema import Ingredient, NutritionItem, Recipe

PHOTO = "https://example.com/images/carbonara.jpg"
#: Deterministic examples, no example database written into the repository.
PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def test_carbonara_maps_every_field() -> None:
    data = recipe_jsonld(carbonara(), image_url=PHOTO, url="https://example.com/carbonara")
    assert data == {
        "@context": "https://schema.org",
        "@type": "Recipe",
        "name": "Pasta Carbonara",
        "url": "https://example.com/carbonara",
        "description": "Silky Roman pasta with egg, pecorino, guanciale and black pepper.",
        "abstract": "Toss hot spaghetti with crisp guanciale, then an egg and cheese emulsion.",
        "image": PHOTO,
        "prepTime": "PT10M",
        "cookTime": "PT15M",
        "totalTime": "PT25M",
        "recipeYield": "4 servings",
        "recipeCuisine": "Italy",
        "recipeCategory": ["Lunch", "Dinner"],
        "keywords": "High-protein, Pork, contains Egg, contains Dairy, contains Gluten",
        "recipeIngredient": [
            "400 g Spaghetti",
            "150 g Guanciale",
            "4 Egg yolks",
            "60 g Pecorino Romano",
            "1 tsp Black pepper",
        ],
        "recipeInstructions": [
            {"@type": "HowToStep", "text": "Cut the guanciale into short strips."},
            {"@type": "HowToStep", "text": "Whisk the yolks with the grated pecorino and pepper."},
            {"@type": "HowToStep", "text": "Boil the spaghetti in salted water until al dente."},
            {"@type": "HowToStep", "text": "Crisp the guanciale in a dry pan over medium heat."},
            {
                "@type": "HowToStep",
                "text": "Toss the drained pasta with the guanciale off the heat.",
            },
            {
                "@type": "HowToStep",
                "text": "Stir in the egg mixture with a splash of pasta water until creamy.",
            },
        ],
        "nutrition": {
            "@type": "NutritionInformation",
            "calories": "620 kcal",
            "proteinContent": "27.5 g",
            "carbohydrateContent": "72 g",
            "fatContent": "24 g",
            "fiberContent": "3 g",
            "sodiumContent": "900 mg",
        },
    }
    assert validate(data) == []


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(1, "PT1M"), (15, "PT15M"), (60, "PT1H"), (90, "PT1H30M"), (125, "PT2H5M"), (1500, "PT25H")],
)
def test_iso_durations(minutes: int, expected: str) -> None:
    assert iso_duration(minutes) == expected
    assert duration_minutes(expected) == minutes


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        iso_duration(-5)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["Vegan"], ["VeganDiet"]),
        (["Gluten-free", "gluten free", "GLUTEN_FREE"], ["GlutenFreeDiet"]),
        (["Vegetarian", "Low-sodium", "Halal"], ["VegetarianDiet", "LowSaltDiet", "HalalDiet"]),
        (["Lactose-free", "Low fat", "Kosher"], ["LowLactoseDiet", "LowFatDiet", "KosherDiet"]),
        (["Keto", "Paleo", "High-protein", "Dairy-free"], []),
    ],
)
def test_diet_tags_that_name_a_restricted_diet(tags: list[str], expected: list[str]) -> None:
    urls = restricted_diets(tags)
    assert urls == [f"https://schema.org/{member}" for member in expected]
    assert {u.removeprefix("https://schema.org/") for u in urls} <= set(
        ENUMERATIONS["RestrictedDiet"]
    )


def test_diets_without_a_member_stay_keywords_only() -> None:
    recipe = carbonara().model_copy(update={"diet": ["Vegetarian", "Keto"]})
    data = recipe_jsonld(recipe, image_url=None)
    assert data["suitableForDiet"] == ["https://schema.org/VegetarianDiet"]
    assert data["keywords"].startswith("Vegetarian, Keto, Pork")
    assert "suitableForDiet" not in recipe_jsonld(carbonara(), image_url=None)


@pytest.mark.parametrize(
    ("name", "quantity", "expected"),
    [
        ("Spaghetti", "200 g", "200 g Spaghetti"),
        ("Butter", "½ cup", "½ cup Butter"),
        ("Salt", "to taste", "Salt, to taste"),
        ("Nutmeg", "a pinch", "Nutmeg, a pinch"),
        ("Basil leaves", "", "Basil leaves"),
    ],
)
def test_ingredient_lines(name: str, quantity: str, expected: str) -> None:
    assert ingredient_line(Ingredient(ingredient=name, quantity=quantity)) == expected


def test_what_the_recipe_lacks_is_left_out() -> None:
    bare = carbonara().model_copy(
        update={
            "description": " ",
            "tldr": "",
            "prep_time": 0,
            "cook_time": 0,
            "serving_size": "",
            "country": "",
            "meal_type": [],
            "diet": [],
            "allergies": [],
            "protein_type": ["None"],
            "ingredients": [],
            "preparation": [],
            "instructions": [],
            "other_nutrition": [NutritionItem(item="Vitamin C", quantity="12 mg")],
        }
    )
    data = recipe_jsonld(bare, image_url=None)
    assert set(data) == {"@context", "@type", "name", "nutrition"}
    assert "vitaminC" not in json.dumps(data) and validate(data) == []


def test_only_prep_time_gives_total_time() -> None:
    data = recipe_jsonld(carbonara().model_copy(update={"cook_time": 0}), image_url=None)
    assert (data["prepTime"], data["totalTime"]) == ("PT10M", "PT10M")
    assert "cookTime" not in data


def test_other_nutrients_only_as_masses() -> None:
    items = [
        NutritionItem(item="Sodium", quantity="480mg"),
        NutritionItem(item="Sugars", quantity="6,5 g"),
        NutritionItem(item="Saturated fat", quantity="about 4 g"),
        NutritionItem(item="Cholesterol", quantity="a lot"),
    ]
    data = recipe_jsonld(carbonara().model_copy(update={"other_nutrition": items}), image_url=None)
    nutrition = data["nutrition"]
    assert nutrition["sodiumContent"] == "480 mg" and nutrition["sugarContent"] == "6.5 g"
    assert "saturatedFatContent" not in nutrition and "cholesterolContent" not in nutrition
    assert validate(data) == []


@pytest.mark.parametrize("bad", ["images/x.jpg", "/images/x.jpg", "x.jpg", "//cdn/x.jpg"])
def test_a_relative_image_url_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="absolute URL"):
        recipe_jsonld(carbonara(), image_url=bad)


def test_a_file_uri_is_absolute() -> None:
    data = recipe_jsonld(carbonara(), image_url="file:///data/images/x.jpg")
    assert data["image"] == "file:///data/images/x.jpg" and validate(data) == []


# --- the validator itself must be able to fail ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"@type": "Recipie"}, "unknown @type"),
        ({"ingredients": ["1 egg"]}, "superseded by recipeIngredient"),
        ({"recipeIngredients": ["1 egg"]}, "not a property of Recipe"),
        ({"difficulty": "Easy"}, "not a property of Recipe"),
        ({"prepTime": "15 minutes"}, "not ISO 8601"),
        ({"prepTime": 15}, "a number is not allowed"),
        ({"suitableForDiet": ["https://schema.org/KetoDiet"]}, "not a member of RestrictedDiet"),
        ({"suitableForDiet": ["Vegan"]}, "a string is not allowed"),
        ({"image": "images/x.jpg"}, "not an absolute URL"),
        ({"recipeCategory": []}, "empty list"),
        ({"nutrition": {"@type": "HowToStep", "text": "x"}}, "a HowToStep is not allowed"),
        ({"nutrition": {"@type": "NutritionInformation", "calories": "520"}}, "not a Energy"),
        ({"nutrition": {"@type": "NutritionInformation", "vitaminC": "1 mg"}}, "not a property"),
        ({"recipeInstructions": [{"@type": "HowToStep", "txt": "Boil."}]}, "not a property"),
    ],
)
def test_the_validator_catches(change: dict[str, Any], message: str) -> None:
    data = {**recipe_jsonld(carbonara(), image_url=PHOTO), **change}
    errors = validate(data)
    assert any(message in e for e in errors), errors


def test_sections_are_valid_schema_org_too() -> None:
    """HowToSection is in the vocabulary file so a change to sections stays checked."""
    data = recipe_jsonld(carbonara(), image_url=None)
    section = {
        "@type": "HowToSection",
        "name": "Preparation",
        "itemListElement": data.pop("recipeInstructions"),
    }
    assert validate({**data, "recipeInstructions": [section]}) == []


# --- any recipe -----------------------------------------------------------------------------

_text = st.text(max_size=40)
_minutes = st.integers(min_value=0, max_value=10_000)
_amount = st.floats(min_value=0, max_value=100_000, allow_nan=False)

recipes = st.builds(
    Recipe,
    title=st.text(min_size=1, max_size=40),
    description=_text,
    tldr=_text,
    country=_text,
    difficulty=st.sampled_from(["Easy", "Medium", "Hard"]),
    prep_time=_minutes,
    cook_time=_minutes,
    serving_size=_text,
    meal_type=st.lists(st.sampled_from(["Breakfast", "Lunch", "Dinner", "Snack", "Dessert"])),
    diet=st.lists(st.one_of(_text, st.sampled_from(["Vegan", "Gluten-free", "Low-salt"]))),
    allergies=st.lists(_text, max_size=4),
    protein_type=st.lists(st.sampled_from(["None", "Chicken", "Tofu", "Other"]), max_size=3),
    ingredients=st.lists(st.builds(Ingredient, ingredient=_text, quantity=_text), max_size=6),
    preparation=st.lists(_text, max_size=4),
    instructions=st.lists(_text, max_size=6),
    calories=_amount,
    protein=_amount,
    carbs=_amount,
    fat=_amount,
    fiber=_amount,
    other_nutrition=st.lists(
        st.builds(
            NutritionItem,
            item=st.sampled_from(["Sodium", "Sugar", "Vitamin C", "Trans fat"]),
            quantity=st.one_of(_text, st.from_regex(r"\A[0-9]{1,4} ?(mg|g)\Z")),
        ),
        max_size=4,
    ),
)


@PROPERTY
@given(recipe=recipes)
def test_any_recipe_gives_valid_schema_org(recipe: Recipe) -> None:
    data = recipe_jsonld(recipe, image_url=PHOTO)
    assert validate(data) == []
    assert json.loads(json.dumps(data)) == data  # plain JSON types only
    total = max(recipe.prep_time, 0) + max(recipe.cook_time, 0)
    if total:
        assert duration_minutes(data["totalTime"]) == total
    steps = [s.strip() for s in recipe.preparation + recipe.instructions if s.strip()]
    assert [s["text"] for s in data.get("recipeInstructions", [])] == steps


# --- inside an HTML page ---------------------------------------------------------------------


class _Page(HTMLParser):
    """What a browser's parser makes of a fragment: its tags and each script's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(f"/{tag}")
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _parse(fragment: str) -> _Page:
    page = _Page()
    page.feed(f"<body>{fragment}<p>after</p></body>")
    page.close()
    return page


def test_script_tag_survives_a_closing_tag_in_the_text() -> None:
    hostile = "</script><script>alert(1)</script><!-- & \u2028"
    recipe = carbonara().model_copy(update={"title": hostile, "description": "a < b > c & d"})
    data = recipe_jsonld(recipe, image_url=PHOTO)
    tag = jsonld_script_tag(data)
    assert tag.startswith('<script type="application/ld+json">') and tag.endswith("</script>")
    body = tag.removeprefix('<script type="application/ld+json">').removesuffix("</script>")
    assert not {"<", ">", "&", "\u2028"} & set(body)
    assert "\\u003c/script\\u003e" in body
    page = _parse(tag)
    assert page.tags == ["body", "script", "/script", "p", "/p", "/body"]
    assert json.loads(page.scripts[0]) == data


_pieces = ["</script>", "</SCRIPT ", "<script>", "<!--", "-->", "&amp;", "<", ">", "&", "\u2028"]
_hostile = st.lists(st.sampled_from([*_pieces, "\\", '"', "x"]), max_size=12).map("".join)


@PROPERTY
@given(text=_hostile | st.text())
def test_no_text_breaks_out_of_the_script(text: str) -> None:
    recipe = carbonara().model_copy(update={"title": text or "x", "instructions": [text]})
    data = recipe_jsonld(recipe, image_url=None)
    page = _parse(jsonld_script_tag(data))
    assert page.tags == ["body", "script", "/script", "p", "/p", "/body"]
    assert json.loads(page.scripts[0]) == data
