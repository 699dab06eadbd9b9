"""Helpers for the emulator tests: write JSONL, run a batch, read both result files."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from openai import OpenAI
from openai.types import Batch
from pydantic import BaseModel

from batchcook.testing.openai_emulator.validation import schemas


def line(custom_id: str, body: dict[str, Any], url: str = "/v1/responses") -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def text_body(prompt: str = "pasta carbonara", model: str = "gpt-5.6-luna") -> dict[str, Any]:
    return {"model": model, "input": prompt}


def image_body(prompt: str = "pasta carbonara", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-image-2", "prompt": prompt, "size": "1024x1024", **extra}


def upload(client: OpenAI, lines: list[dict[str, Any]] | list[str], name: str = "in.jsonl") -> str:
    raw = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    return client.files.create(file=(name, raw.encode()), purpose="batch").id


def submit(
    client: OpenAI, lines: list[dict[str, Any]] | list[str], endpoint: str = "/v1/responses"
) -> Batch:
    return client.batches.create(
        input_file_id=upload(client, lines),
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
    )


def read_lines(client: OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    return [json.loads(raw) for raw in client.files.content(file_id).text.splitlines()]


def spec_errors(schema_name: str, value: Any, *, drop_nulls: bool = False) -> list[str]:
    """Where ``value`` (as sent on the wire) disagrees with the official spec.

    ``drop_nulls``: the spec types some fields the real API sends as ``null`` (Batch
    timestamps, file ids) as non-nullable; drop those before comparing.
    """

    def without_nulls(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: without_nulls(v) for k, v in x.items() if v is not None}
        if isinstance(x, list):
            return [without_nulls(v) for v in x]
        return x

    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if drop_nulls:
        value = without_nulls(value)
    validator = Draft202012Validator({"$ref": f"#/$defs/{schema_name}", "$defs": schemas()})
    return [e.message for e in validator.iter_errors(value)]
