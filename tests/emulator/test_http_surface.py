"""Auth, routing, files and the sync endpoints, through the official SDK over loopback."""

from __future__ import annotations

import base64
import io
import json
from datetime import date, timedelta
from pathlib import Path

import httpx
import openai
import pytest
from oai_helpers import spec_errors
from openai import OpenAI
from openai.lib._parsing._responses import type_to_text_format_param
from PIL import Image
from pydantic import BaseModel

from batchcook.generation.catalog import load_catalog
from batchcook.recipes.schema import Recipe
from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.server import serve
from pinned import RETIRING_ON, RETIRING_TEXT, pinned_emulator


def test_missing_key_is_401_in_openai_shape(emu_url: str) -> None:
    r = httpx.get(f"{emu_url}/v1/batches")
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    assert "You didn't provide an API key" in err["message"]


def test_wrong_key_is_masked_in_the_error() -> None:
    emu = OpenAIEmulator(api_keys={"sk-right-key-123456"})
    with serve(emu.app) as url:
        client = OpenAI(api_key="sk-wrong-secret-9999", base_url=f"{url}/v1", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as info:
            client.batches.list()
    assert info.value.code == "invalid_api_key"
    assert "sk-wrong-secret-9999" not in info.value.message
    assert "9999" in info.value.message


def test_parse_is_not_an_http_endpoint(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.post("/responses/parse", body={"model": "gpt-5.6-luna"}, cast_to=object)
    assert info.value.body["message"] == "Invalid URL (POST /v1/responses/parse)"


def test_file_round_trip(client: OpenAI) -> None:
    data = b'{"custom_id": "a", "method": "POST", "url": "/v1/responses", "body": {}}\n'
    f = client.files.create(file=("in.jsonl", data), purpose="batch")
    assert (f.purpose, f.bytes, f.status) == ("batch", len(data), "processed")
    assert f.expires_at == f.created_at + 30 * 24 * 3600
    assert client.files.retrieve(f.id).filename == "in.jsonl"
    assert client.files.content(f.id).read() == data
    assert spec_errors("OpenAIFile", f, drop_nulls=True) == []
    assert client.files.delete(f.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)


def test_file_expiry_is_honoured(client: OpenAI) -> None:
    f = client.files.create(
        file=("in.jsonl", b"{}\n"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert f.expires_at == f.created_at + 3600
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(
            file=("in.jsonl", b"{}\n"),
            purpose="batch",
            expires_after={"anchor": "created_at", "seconds": 60},
        )
    assert info.value.code == "integer_below_min_value"


def test_batch_upload_must_be_jsonl(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("notes.txt", b"{}"), purpose="batch")
    assert info.value.body["message"] == "Invalid file format for Batch API. Must be .jsonl"


def test_batch_upload_size_limit() -> None:
    emu = OpenAIEmulator(max_batch_file_bytes=100)
    with serve(emu.app) as url:
        client = OpenAI(api_key="k", base_url=f"{url}/v1", max_retries=0)
        client.files.create(file=("ok.jsonl", b"{}\n" * 10), purpose="batch")
        with pytest.raises(openai.BadRequestError) as info:
            client.files.create(file=("big.jsonl", b"{}\n" * 50), purpose="batch")
    assert info.value.body["message"] == "File is too large."
    assert OpenAIEmulator().max_batch_file_bytes == 200 * 1024 * 1024


def test_unknown_purpose(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("a.jsonl", b"{}"), purpose="recipes")  # type: ignore[arg-type]
    assert info.value.code == "invalid_value"
    assert info.value.param == "purpose"


# --- /v1/responses -------------------------------------------------------------------------


def _recipe_request(client: OpenAI, prompt: str = "pasta carbonara", **extra: object) -> object:
    return client.responses.create(
        model="gpt-5.6-luna",
        input=prompt,
        text={"format": type_to_text_format_param(Recipe)},
        **extra,  # type: ignore[arg-type]
    )


def test_strict_json_schema_output_validates_and_is_deterministic(client: OpenAI) -> None:
    first = client.responses.create(
        model="gpt-5.6-luna",
        input="pasta carbonara",
        text={"format": type_to_text_format_param(Recipe)},
    )
    assert first.status == "completed"
    assert [item.type for item in first.output] == ["reasoning", "message"]
    recipe = Recipe.model_validate_json(first.output_text)
    again = client.responses.create(
        model="gpt-5.6-luna",
        input="pasta carbonara",
        text={"format": type_to_text_format_param(Recipe)},
    )
    assert Recipe.model_validate_json(again.output_text) == recipe
    other = client.responses.create(
        model="gpt-5.6-luna",
        input="vegan ramen",
        text={"format": type_to_text_format_param(Recipe)},
    )
    assert Recipe.model_validate_json(other.output_text) != recipe
    usage = first.usage
    assert usage is not None and usage.output_tokens_details.reasoning_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert spec_errors("Response", first) == []


def test_sdk_parse_posts_to_responses(client: OpenAI) -> None:
    parsed = client.responses.parse(model="gpt-5.6-luna", input="carbonara", text_format=Recipe)
    assert isinstance(parsed.output_parsed, Recipe)


def test_hand_written_non_strict_schema_is_refused(client: OpenAI) -> None:
    class Loose(BaseModel):
        title: str
        note: str | None = None

    fmt = {
        "type": "json_schema",
        "name": "Loose",
        "strict": True,
        "schema": Loose.model_json_schema(),
    }
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.6-luna", input="x", text={"format": fmt})  # type: ignore[typeddict-item]
    assert info.value.code == "invalid_json_schema"
    assert info.value.param == "text.format.schema"
    assert "'additionalProperties' is required to be supplied and to be false" in info.value.message


def test_missing_required_in_strict_schema(client: OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "name": "T", "strict": True, "schema": schema}
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.6-luna", input="x", text={"format": fmt})  # type: ignore[typeddict-item]
    assert "Missing 'b'" in info.value.message


@pytest.mark.parametrize(
    ("extra", "code", "param"),
    [
        ({"temperature_x": 1}, "unknown_parameter", "temperature_x"),
        ({"max_output_tokens": "many"}, "invalid_type", "max_output_tokens"),
        ({"max_output_tokens": 10}, "integer_below_min_value", "max_output_tokens"),
        ({"service_tier": "turbo"}, "invalid_value", "service_tier"),
        ({"text": {"format": {"type": "json_schema"}}}, "missing_required_parameter", None),
    ],
)
def test_responses_validation_errors(
    client: OpenAI, extra: dict[str, object], code: str, param: str | None
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.post(
            "/responses", body={"model": "gpt-5.6-luna", "input": "x", **extra}, cast_to=object
        )
    assert info.value.code == code
    if param is not None:
        assert info.value.param == param


def test_incomplete_when_output_budget_runs_out(client: OpenAI) -> None:
    r = _recipe_request(client, max_output_tokens=300)
    assert r.status == "incomplete"  # type: ignore[attr-defined]
    assert r.incomplete_details.reason == "max_output_tokens"  # type: ignore[attr-defined]


def test_refusal_is_a_content_item(client: OpenAI) -> None:
    r = client.responses.create(model="gpt-5.6-luna", input="how to poison a stew")
    message = next(item for item in r.output if item.type == "message")
    assert message.content[0].type == "refusal"
    assert r.output_text == ""


def test_flex_accepted_only_where_the_catalog_says(client: OpenAI) -> None:
    r = client.responses.create(model="gpt-5.6-luna", input="x", service_tier="flex")
    assert r.service_tier == "flex"
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-6-luna", input="x", service_tier="flex")
    assert info.value.param == "service_tier"


def test_unknown_and_retired_models(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.create(model="gpt-nope", input="x")
    assert info.value.code == "model_not_found"
    assert "does not exist or you do not have access to it" in info.value.message
    with pytest.raises(openai.NotFoundError) as info:
        client.images.generate(model="gpt-image-1", prompt="x")
    assert info.value.code == "model_not_found"
    assert "has been deprecated" in info.value.message


def test_retirement_follows_the_emulator_clock(retiring_catalog: Path) -> None:
    """A model is served up to the day before its shutdown and refused from that day on,
    on the emulator's clock, whatever today's date is."""
    catalog = load_catalog(retiring_catalog)
    emu = pinned_emulator(RETIRING_ON - timedelta(days=1), catalog)
    with serve(emu.app) as url:
        client = OpenAI(api_key="sk-test-key", base_url=f"{url}/v1", max_retries=0)
        client.responses.create(model=RETIRING_TEXT, input="x")
        emu.advance(24 * 3600)  # noon on the shutdown day
        with pytest.raises(openai.NotFoundError) as info:
            client.responses.create(model=RETIRING_TEXT, input="x")
    assert info.value.code == "model_not_found"
    assert "has been deprecated" in info.value.message


def test_shipped_retirements_refused_on_their_day() -> None:
    """The shipped catalog's gpt-image-1.5 (shut down 2026-12-01) is served the day before
    and refused from that day, on a pinned clock."""
    emu = pinned_emulator(date(2026, 11, 30))
    with serve(emu.app) as url:
        client = OpenAI(api_key="sk-test-key", base_url=f"{url}/v1", max_retries=0)
        client.images.generate(model="gpt-image-1.5", prompt="x", size="1024x1024")
        emu.advance(24 * 3600)
        with pytest.raises(openai.NotFoundError):
            client.images.generate(model="gpt-image-1.5", prompt="x", size="1024x1024")


# --- /v1/images/generations ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "pil_format", "size"),
    [(None, "PNG", "1024x1024"), ("jpeg", "JPEG", "1536x1024"), ("webp", "WEBP", "1024x1536")],
)
def test_images_are_real_and_honour_format_and_size(
    client: OpenAI, fmt: str | None, pil_format: str, size: str
) -> None:
    extra = {} if fmt is None else {"output_format": fmt, "output_compression": 70}
    r = client.images.generate(model="gpt-image-2", prompt="carbonara", size=size, **extra)  # type: ignore[arg-type]
    assert r.data is not None and r.data[0].b64_json
    image = Image.open(io.BytesIO(base64.b64decode(r.data[0].b64_json)))
    assert image.format == pil_format
    assert f"{image.width}x{image.height}" == size
    assert r.usage is not None and r.usage.output_tokens > 0
    assert spec_errors("ImagesResponse", r) == []


def test_image_model_rejects_response_format_and_flex(client: OpenAI) -> None:
    for extra in ({"response_format": "b64_json"}, {"service_tier": "flex"}):
        with pytest.raises(openai.BadRequestError) as info:
            client.post(
                "/images/generations",
                body={"model": "gpt-image-2", "prompt": "x", **extra},
                cast_to=object,
            )
        assert info.value.code == "unknown_parameter"
        assert info.value.body["message"] == f"Unknown parameter: '{next(iter(extra))}'."


def test_image_sizes_per_model(client: OpenAI) -> None:
    r = client.images.generate(model="gpt-image-2", prompt="x", size="2048x1152")  # type: ignore[arg-type]
    assert r.size == "2048x1152"
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="gpt-image-2", prompt="x", size="1000x1000")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="gpt-image-1.5", prompt="x", size="2048x1152")  # type: ignore[arg-type]
    assert info.value.param == "size"


def test_error_bodies_match_the_spec(emu_url: str) -> None:
    r = httpx.post(
        f"{emu_url}/v1/responses",
        headers={"Authorization": "Bearer k"},
        content=json.dumps({"input": "no model"}),
    )
    assert r.status_code == 400
    assert spec_errors("ErrorResponse", r.json()) == []
    assert r.headers["x-request-id"].startswith("req_")


def test_list_models_in_the_spec_shape_without_retired_ones(client: OpenAI) -> None:
    """``GET /v1/models`` (ListModelsResponse) is what ``batchcook doctor`` tries the key on."""
    raw = client.models.with_raw_response.list().http_response.json()
    assert raw["object"] == "list"
    for model in raw["data"]:
        assert set(model) >= {"id", "object", "created", "owned_by"}  # the spec's required
        assert model["object"] == "model" and isinstance(model["created"], int)
    ids = {m.id for m in client.models.list()}
    assert {"gpt-5.6-luna", "gpt-image-2"} <= ids
    assert "gpt-image-1" not in ids  # shut down before the pinned day


def test_list_models_needs_a_key(emu_url: str) -> None:
    assert httpx.get(f"{emu_url}/v1/models").status_code == 401
