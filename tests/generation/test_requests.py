"""The JSONL we send validates against the official batch line and request schemas."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from batchcook.config import Settings
from batchcook.generation.batch import plan_chunks
from batchcook.generation.requests import image_request, text_format, text_request
from batchcook.recipes.prompts import SYSTEM_INSTRUCTIONS, image_prompt
from batchcook.recipes.schema import Recipe
from batchcook.testing.openai_emulator.validation import check_strict_schema, schemas


def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": schemas()})


def test_lines_validate_against_the_spec() -> None:
    settings = Settings()
    requests = [
        text_request("job-data", "carbonara", SYSTEM_INSTRUCTIONS, Recipe, settings),
        image_request("job-image", image_prompt("carbonara"), settings),
    ]
    chunks = plan_chunks(requests)
    assert [c.endpoint for c in chunks] == ["/v1/responses", "/v1/images/generations"]
    for chunk, body_schema in zip(chunks, ["CreateResponse", "CreateImageRequest"], strict=True):
        (raw,) = chunk.data().splitlines()
        line = json.loads(raw)
        assert list(_validator("BatchRequestInput").iter_errors(line)) == []
        assert line["url"] == chunk.endpoint and line["method"] == "POST"
        assert list(_validator(body_schema).iter_errors(line["body"])) == []
    image_body = json.loads(chunks[1].data())["body"]
    assert "response_format" not in image_body
    assert image_body["output_format"] == "jpeg"


def test_text_format_is_the_sdk_strict_schema() -> None:
    fmt = text_format(Recipe)
    assert (fmt["type"], fmt["name"], fmt["strict"]) == ("json_schema", "Recipe", True)
    schema = fmt["schema"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"]) == set(Recipe.model_fields)
    change = schema["properties"]["change_description"]
    assert change["anyOf"] == [{"type": "string"}, {"type": "null"}]  # optional = nullable
    assert "default" not in change
    check_strict_schema(fmt)  # what the emulator (and the API) require of strict schemas
    for name in ("Ingredient", "NutritionItem"):
        sub = schema["$defs"][name]
        assert sub["additionalProperties"] is False
        assert set(sub["required"]) == set(sub["properties"])
