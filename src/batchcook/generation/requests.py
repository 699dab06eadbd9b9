"""Request bodies for the two endpoints, identical whether sent in a batch or directly.

The structured-output format is built by the SDK's own helper (``type_to_text_format_param``)
so the schema is exactly what ``client.responses.parse`` would send: strict, every field
required, objects closed. The helper is private to the SDK; ``tests/generation/test_requests.py``
pins its output so an SDK upgrade that changes it fails loudly.
"""

from __future__ import annotations

from typing import Any

from openai.lib._parsing._responses import type_to_text_format_param
from pydantic import BaseModel

from batchcook.config import Settings
from batchcook.generation.batch.jsonl import BatchRequest

RESPONSES = "/v1/responses"
IMAGES = "/v1/images/generations"


def text_format(schema: type[BaseModel]) -> dict[str, Any]:
    return dict(type_to_text_format_param(schema))


def text_request(
    custom_id: str,
    prompt: str,
    instructions: str,
    schema: type[BaseModel],
    settings: Settings,
) -> BatchRequest:
    body: dict[str, Any] = {
        "model": settings.text_model,
        "instructions": instructions,
        "input": prompt,
        "text": {"format": text_format(schema)},
        "max_output_tokens": settings.max_output_tokens,
    }
    if settings.reasoning_effort:
        body["reasoning"] = {"effort": settings.reasoning_effort}
    return BatchRequest(custom_id, RESPONSES, body)


def image_request(custom_id: str, image_prompt: str, settings: Settings) -> BatchRequest:
    # No response_format: GPT image models refuse it and always answer with b64_json.
    body: dict[str, Any] = {
        "model": settings.image_model,
        "prompt": image_prompt,
        "size": settings.image_size,
        "quality": settings.image_quality,
        "output_format": settings.image_format,
        "n": 1,
    }
    if settings.image_format != "png":
        body["output_compression"] = settings.image_compression
    return BatchRequest(custom_id, IMAGES, body)


def job_requests(
    job_id: str,
    prompt: str,
    instructions: str,
    schema: type[BaseModel],
    image_prompt: str,
    settings: Settings,
) -> tuple[BatchRequest, BatchRequest]:
    """The two requests of one job; their custom_ids are derived from the job id."""
    return (
        text_request(f"{job_id}-data", prompt, instructions, schema, settings),
        image_request(f"{job_id}-image", image_prompt, settings),
    )
