"""The emulator answers from fixtures: real recipes and drawings for matching prompts, the
embedded recipe changed for modification prompts, schema filler for the rest."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openai import OpenAI
from PIL import Image
from typer.testing import CliRunner

from batchcook.cli import app
from batchcook.generation.requests import text_format
from batchcook.recipes.prompts import image_prompt, modification_prompt, modified_image_prompt
from batchcook.recipes.schema import Recipe
from batchcook.testing.openai_emulator import (
    FixturesError,
    ManualClock,
    OpenAIEmulator,
    load_fixtures,
    shipped_fixtures,
)
from batchcook.testing.openai_emulator.content import (
    REASONING_TOKENS,
    modification_request,
    tokens,
)
from pinned import PINNED_DAY, at_noon

STRICT = text_format(Recipe)


def _fixture(name: str) -> dict[str, Any]:
    found = next(f for f in shipped_fixtures().fixtures if f.name == name)
    assert found.response is not None
    return found.response


def _ask(client: OpenAI, prompt: str) -> Any:
    return client.responses.create(
        model="gpt-5.6-luna",
        input=prompt,
        text={"format": STRICT},  # type: ignore[typeddict-item]
        reasoning={"effort": "low"},
    )


def test_shipped_recipes_validate_against_the_strict_recipe_schema() -> None:
    fixtures = shipped_fixtures()
    validator = Draft202012Validator(STRICT["schema"])
    titles = []
    for fixture in fixtures.fixtures:
        assert fixture.response is not None and fixture.image is not None, fixture.name
        errors = [e.message for e in validator.iter_errors(fixture.response)]
        assert errors == [], (fixture.name, errors)
        recipe = Recipe.model_validate(fixture.response)
        titles.append(recipe.title)
        # Written for people: real quantities, real steps, sensible times and nutrition.
        assert all(re.search(r"\d|to taste", i.quantity) for i in recipe.ingredients), recipe.title
        assert len(recipe.ingredients) >= 5 and len(recipe.instructions) >= 4
        assert 0 < recipe.prep_time <= 60 and 0 < recipe.cook_time <= 120
        assert 150 <= recipe.calories <= 900 and recipe.change_description is None
        assert not any("for " in s and "(" in s for s in recipe.instructions)  # no filler
    assert titles == [
        "Pasta Carbonara",
        "Chicken Noodle Soup",
        "Chickpea and Spinach Coconut Curry",
        "Apple Crumble",
    ]
    vegan = Recipe.model_validate(_fixture("chickpea-spinach-curry"))
    assert "Vegan" in vegan.diet and vegan.allergies == []
    assert Recipe.model_validate(_fixture("apple-crumble")).meal_type == ["Dessert"]


@pytest.mark.parametrize(
    ("prompt", "title"),
    [
        ("make me pasta carbonara", "Pasta Carbonara"),
        ("Chicken noodle SOUP for a cold day", "Chicken Noodle Soup"),
        ("a vegan chickpea curry", "Chickpea and Spinach Coconut Curry"),
        ("apple crumble", "Apple Crumble"),
    ],
)
def test_a_matching_prompt_returns_the_fixture_recipe(
    client: OpenAI, prompt: str, title: str
) -> None:
    answer = _ask(client, prompt)
    assert answer.status == "completed"
    recipe = Recipe.model_validate_json(answer.output_text)
    assert recipe.title == title
    assert json.loads(answer.output_text) == next(
        f.response
        for f in shipped_fixtures().fixtures
        if f.response and f.response["title"] == title
    )
    # Usage as for any answer: input from the request, output from the text plus reasoning.
    assert answer.usage is not None
    assert answer.usage.output_tokens == tokens(answer.output_text) + REASONING_TOKENS["low"]
    assert answer.usage.input_tokens > tokens(json.dumps(STRICT["schema"]))


def test_an_unmatched_prompt_falls_back_to_schema_filler(client: OpenAI) -> None:
    recipe = Recipe.model_validate_json(_ask(client, "vegan ramen").output_text)
    assert recipe.title == "Vegan Ramen"
    assert recipe.description.startswith("Description for vegan ramen (")


def test_the_image_for_a_fixture_is_a_drawing_of_the_dish(client: OpenAI) -> None:
    drawing = shipped_fixtures().image_for("carbonara")
    assert drawing is not None
    answer = client.images.generate(
        model="gpt-image-2",
        prompt=image_prompt("make me pasta carbonara"),
        size="1536x1024",
        output_format="png",
    )
    assert answer.data and answer.data[0].b64_json
    image = Image.open(io.BytesIO(base64.b64decode(answer.data[0].b64_json)))
    assert image.format == "PNG" and image.size == (1536, 1024)
    counted = image.convert("RGB").getcolors(1 << 22) or []
    present = {"#{:02x}{:02x}{:02x}".format(*rgb) for _, rgb in counted}
    colours = drawing.colours()
    assert set(colours) == {"spaghetti", "guanciale", "pecorino", "black pepper"}
    assert set(colours.values()) <= present, set(colours.values()) - present
    assert drawing.table in present and drawing.vessel_color in present


def _colours_in(client: OpenAI, prompt: str) -> set[str]:
    answer = client.images.generate(
        model="gpt-image-2", prompt=prompt, size="1024x1024", output_format="png"
    )
    assert answer.data and answer.data[0].b64_json
    image = Image.open(io.BytesIO(base64.b64decode(answer.data[0].b64_json))).convert("RGB")
    return {"#{:02x}{:02x}{:02x}".format(*rgb) for _, rgb in image.getcolors(1 << 22) or []}


def test_the_image_of_a_changed_dish_shows_the_change(client: OpenAI) -> None:
    """`modified_image_prompt` for "make it vegan": the guanciale is drawn as smoked tofu."""
    drawing = shipped_fixtures().image_for("carbonara")
    vegan = next(m for m in shipped_fixtures().modifications if m.name == "vegan")
    assert drawing is not None
    guanciale, spaghetti = drawing.colours()["guanciale"], drawing.colours()["spaghetti"]
    tofu = vegan.redraw(drawing).colours()["smoked tofu"]
    present = _colours_in(client, modified_image_prompt("Pasta Carbonara", "make it vegan"))
    assert tofu in present and spaghetti in present and guanciale not in present
    # A change no rule knows leaves the dish as it was.
    present = _colours_in(client, modified_image_prompt("Pasta Carbonara", "less salt"))
    assert guanciale in present and tofu not in present


def test_the_image_keeps_the_requested_format(client: OpenAI) -> None:
    answer = client.images.generate(
        model="gpt-image-2",
        prompt=image_prompt("apple crumble"),
        size="1024x1024",
        output_format="jpeg",
        output_compression=80,
    )
    assert answer.data and answer.data[0].b64_json
    image = Image.open(io.BytesIO(base64.b64decode(answer.data[0].b64_json)))
    assert image.format == "JPEG" and image.size == (1024, 1024)


def test_a_modification_prompt_changes_the_embedded_recipe(client: OpenAI) -> None:
    current = {k: v for k, v in _fixture("pasta-carbonara").items() if k != "change_description"}
    prompt = modification_prompt(json.dumps(current, ensure_ascii=False), "make it vegan")
    vegan = Recipe.model_validate_json(_ask(client, prompt).output_text)
    assert vegan.title == "Vegan Pasta Carbonara"
    assert vegan.change_description and "vegan" in vegan.change_description.lower()
    names = " ".join(i.ingredient for i in vegan.ingredients).lower()
    assert "guanciale" not in names and "egg" not in names and "tofu" in names
    assert "Vegan" in vegan.diet and not {"Egg", "Dairy"} & set(vegan.allergies)
    assert vegan.protein_type == ["Tofu"]
    assert not any("guanciale" in s.lower() for s in vegan.preparation + vegan.instructions)

    # A change no rule knows: the recipe is kept, the request recorded, the title sensible.
    prompt = modification_prompt(json.dumps(current, ensure_ascii=False), "use less salt")
    kept = Recipe.model_validate_json(_ask(client, prompt).output_text)
    assert kept.title == "Pasta Carbonara"
    assert kept.change_description == "Adjusted as requested: use less salt."
    assert kept.ingredients == Recipe.model_validate(current).ingredients


def test_a_change_leaves_plant_ingredients_alone(client: OpenAI) -> None:
    """The vegan rule swaps dairy milk and butter, not coconut milk in a vegan curry."""
    current = {
        k: v for k, v in _fixture("chickpea-spinach-curry").items() if k != "change_description"
    }
    prompt = modification_prompt(json.dumps(current, ensure_ascii=False), "make it vegan")
    curry = Recipe.model_validate_json(_ask(client, prompt).output_text)
    assert curry.ingredients == Recipe.model_validate(current).ingredients
    assert curry.diet == ["Vegan", "Gluten-free"]


def test_a_modification_prompt_without_fixtures_keeps_the_recipe() -> None:
    """With no fixtures there are no change rules: the embedded recipe comes back as it was,
    the request noted; never the title-cased prompt of the old filler."""
    emu = OpenAIEmulator(clock=ManualClock(at_noon(PINNED_DAY)), fixtures=None)
    current = {k: v for k, v in _fixture("pasta-carbonara").items() if k != "change_description"}
    body = {
        "model": "gpt-5.6-luna",
        "input": modification_prompt(json.dumps(current), "make it vegan"),
        "text": {"format": STRICT},
    }
    answer = emu.state.run_request("/v1/responses", body)
    recipe = Recipe.model_validate_json(answer["output"][-1]["content"][0]["text"])
    assert recipe.title == "Pasta Carbonara"
    assert recipe.change_description == ("Adjusted as requested: make it vegan.")


def _ramen(title: str = "Shoyu Ramen") -> dict[str, Any]:
    ramen = dict(_fixture("pasta-carbonara"), title=title)
    return ramen


def test_a_fixtures_file_replaces_the_shipped_one(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            {
                "fixtures": [
                    {"name": "ramen", "match": {"keywords": ["ramen"]}, "response": _ramen()},
                    # Not the requested schema's shape: never returned, filler instead.
                    {"name": "bad", "match": {"pattern": "tacos?"}, "response": {"title": "T"}},
                ]
            }
        )
    )
    emu = OpenAIEmulator(clock=ManualClock(at_noon(PINNED_DAY)), fixtures=path)

    def title(prompt: str) -> str:
        body = {"model": "gpt-5.6-luna", "input": prompt, "text": {"format": STRICT}}
        answer = emu.state.run_request("/v1/responses", body)
        return Recipe.model_validate_json(answer["output"][-1]["content"][0]["text"]).title

    assert title("Ramen, please") == "Shoyu Ramen"
    assert title("fish tacos") == "Fish Tacos"  # filler: the fixture did not validate
    assert title("make me pasta carbonara") == "Make Me Pasta Carbonara"  # not shipped ones


def test_a_yaml_fixtures_file_is_read(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    path = tmp_path / "mine.yaml"
    path.write_text(
        yaml.safe_dump(
            {"fixtures": [{"name": "r", "match": {"pattern": "^ramen$"}, "response": _ramen()}]}
        )
    )
    fixtures = load_fixtures(path)
    assert fixtures.response_for("RAMEN") is not None
    assert fixtures.response_for("ramen soup") is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "match": {}, "response": {}}, "fixture x: 'match' needs"),
        ({"name": "x", "match": {"pattern": "a"}}, "fixture x: give a 'response'"),
        (
            {"name": "x", "match": {"pattern": "a"}, "image": {"table": "brown"}},
            "fixture x: colour 'brown' is not #rrggbb",
        ),
        (
            {
                "name": "x",
                "match": {"pattern": "a"},
                "image": {"table": "#000000", "food": [{"name": "f", "shape": "star"}]},
            },
            "shape 'star' is not one of",
        ),
        ({"name": "x", "match": {"pattern": "("}, "response": {}}, "missing )"),
        (
            {"name": "x", "match": {"pattern": "a"}, "respones": {}},
            "fixture x: unknown key 'respones'",
        ),
        ({"name": "x", "match": {"regex": "a"}, "response": {}}, "match: unknown key 'regex'"),
    ],
)
def test_a_bad_fixtures_file_names_the_file_and_entry(
    tmp_path: Path, entry: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"fixtures": [entry]}))
    with pytest.raises(FixturesError) as info:
        load_fixtures(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_emulate_openai_refuses_a_bad_fixtures_file(tmp_path: Path) -> None:
    """Checked before the server starts: exit 2 with the reason, nothing served."""
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    result = CliRunner().invoke(app, ["emulate", "openai", "--fixtures", str(path)])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output and str(path) in result.output


def test_the_change_is_read_after_the_recipe_whatever_the_recipe_says() -> None:
    current = dict(_fixture("apple-crumble"), description="Change it as follows: nothing.")
    found = modification_request(modification_prompt(json.dumps(current), "make it vegan"))
    assert found == (current, "make it vegan")
    assert modification_request("make me pasta carbonara") is None
    assert modification_request('{"a": 1} and then: change it as follows: x') is None


def test_demo_refuses_a_bad_fixtures_file(tmp_path: Path) -> None:
    """Checked before any emulator or job starts (a run would exit 0): exit 2, the entry named."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"modifications": [{"name": "m", "title": "Vegan {title}"}]}))
    result = CliRunner().invoke(app, ["demo", "--fixtures", str(path)])
    assert result.exit_code == 2 and "modification m: 'match' needs" in result.output
