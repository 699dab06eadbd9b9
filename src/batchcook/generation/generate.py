"""``generate_data_and_image``: one prompt in; validated data, an image and their cost out.

The text and the image go out at the same time — two batches (one per endpoint, as the
Batch API requires), or directly in ``flex``/``standard`` mode — and both are needed: any
failure raises one of ``batchcook.generation.errors``, keeping what did succeed on the
exception so a retry never pays twice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from openai import AsyncOpenAI
from openai.types.responses import Response
from pydantic import BaseModel, ValidationError

from batchcook import instrument
from batchcook.config import Mode, Settings, get_settings
from batchcook.generation import direct
from batchcook.generation.batch import (
    BatchRunner,
    Failure,
    Result,
    Success,
)
from batchcook.generation.batch.facts import JOB_METADATA
from batchcook.generation.catalog import Catalog, Tier, Usage, load_catalog
from batchcook.generation.errors import (
    BatchExpiredError,
    BatchFailedError,
    GenerationError,
    IncompleteResponseError,
    InvalidResponseError,
    ModelRetiredError,
    ModelUnsupportedError,
    PartialFailureError,
    RefusalError,
    RequestFailedError,
)
from batchcook.generation.requests import job_requests

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
MAX_IMAGE_PROMPT = 32_000  # the Images API's limit for GPT image models
RETIREMENT_WARNING_DAYS = 30
_MAGIC = {"png": (b"\x89PNG\r\n\x1a\n",), "jpeg": (b"\xff\xd8\xff",), "webp": (b"RIFF",)}


@dataclass(frozen=True)
class RequestCost:
    custom_id: str
    model: str
    tier: Tier
    usage: Usage
    usd: float


@dataclass
class Generation(Generic[T]):
    data: T
    image: bytes
    image_format: str
    costs: list[RequestCost] = field(default_factory=list)
    batch_ids: list[str] = field(default_factory=list)

    @property
    def cost_usd(self) -> float:
        return sum(c.usd for c in self.costs)


def openai_client(settings: Settings) -> AsyncOpenAI:
    """The SDK client as configured; its retries cover 429 (honouring retry-after) and 5xx."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return AsyncOpenAI(
        api_key=key,
        base_url=settings.openai_base_url,
        max_retries=settings.openai_max_retries,
        http_client=instrument.openai_http_client(),  # counts calls by endpoint and code
    )


def check_models(catalog: Catalog, settings: Settings, mode: Mode, today: date) -> None:
    """Refuse a retired or unsuitable model before anything is uploaded or paid for."""
    image_batched = mode == "flex" and settings.flex_image == "batch"
    for name, needs_batch, needs_flex in (
        (settings.text_model, mode == "batch", mode == "flex"),
        (settings.image_model, mode == "batch" or image_batched, False),
    ):
        info = catalog.get(name)
        if info.retired(today):
            raise ModelRetiredError(name, str(info.shutdown), info.replacement)
        if needs_batch and not info.batch:
            raise ModelUnsupportedError(f"model {name!r} is not available in the Batch API")
        if needs_flex and not info.flex:
            raise ModelUnsupportedError(
                f"model {name!r} has no flex tier; use mode 'batch' or 'standard', or a model "
                "the catalog marks flex = true"
            )
        if info.retiring_within(today, RETIREMENT_WARNING_DAYS):
            log.warning(
                "model %s shuts down on %s; switch to %s", name, info.shutdown, info.replacement
            )


async def generate_data_and_image(
    prompt: str,
    instructions: str,
    schema: type[T],
    image_prompt: str,
    *,
    mode: Mode | None = None,
    settings: Settings | None = None,
    client: AsyncOpenAI | None = None,
    runner: BatchRunner | None = None,
    job_id: str | None = None,
    today: date | None = None,
) -> Generation[T]:
    settings = settings or get_settings()
    mode = mode or settings.mode
    if not prompt.strip():
        raise ValueError("the prompt is empty: say what to cook")
    if len(image_prompt) > MAX_IMAGE_PROMPT:
        raise ValueError(
            f"the image prompt is {len(image_prompt):,} characters; "
            f"the limit is {MAX_IMAGE_PROMPT:,}"
        )
    catalog = load_catalog(settings.catalog_path)
    check_models(catalog, settings, mode, today or datetime.now(UTC).date())
    client = client or openai_client(settings)
    runner = runner or BatchRunner(
        client, poll_interval=settings.poll_interval, poll_timeout=settings.poll_timeout
    )
    job_id = job_id or uuid.uuid4().hex
    text_req, image_req = job_requests(job_id, prompt, instructions, schema, image_prompt, settings)
    metadata = {JOB_METADATA: job_id}

    tiers: dict[str, Tier] = {}
    batch_ids: list[str] = []
    if mode == "batch":
        submitted = await runner.submit([text_req, image_req], metadata)
        batch_ids = [s.id for s in submitted]
        results = await runner.finish(submitted)
        tiers = {text_req.custom_id: "batch", image_req.custom_id: "batch"}
    elif mode == "flex" and settings.flex_image == "batch":
        submitted = await runner.submit([image_req], metadata)
        batch_ids = [s.id for s in submitted]
        (text_result, text_tier), image_results = await asyncio.gather(
            direct.call(client, text_req, "flex"), runner.finish(submitted)
        )
        results = {text_req.custom_id: text_result, **image_results}
        tiers = {text_req.custom_id: text_tier, image_req.custom_id: "batch"}
    else:
        text_tier_wanted: direct.Tier = "flex" if mode == "flex" else "standard"
        (text_result, text_tier), (image_result, image_tier) = await asyncio.gather(
            direct.call(client, text_req, text_tier_wanted), direct.call(client, image_req)
        )
        results = {text_req.custom_id: text_result, image_req.custom_id: image_result}
        tiers = {text_req.custom_id: text_tier, image_req.custom_id: image_tier}

    return interpret(
        results, text_req.custom_id, image_req.custom_id, schema, settings, tiers, batch_ids
    )


def interpret(
    results: dict[str, Result],
    text_id: str,
    image_id: str,
    schema: type[T],
    settings: Settings,
    tiers: dict[str, Tier],
    batch_ids: list[str],
) -> Generation[T]:
    """Both results → validated data, checked image bytes and cost; or the right error."""
    catalog = load_catalog(settings.catalog_path)
    text_body, image_body = _both_or_raise(results, text_id, image_id)
    data, text_usage = parse_structured(text_id, text_body, schema)
    image, image_usage = decode_image(image_id, image_body, settings.image_format)
    costs = [
        _cost(catalog, text_id, settings.text_model, tiers[text_id], text_usage),
        _cost(catalog, image_id, settings.image_model, tiers[image_id], image_usage),
    ]
    return Generation(data, image, settings.image_format, costs, batch_ids)


def _both_or_raise(
    results: dict[str, Result], text_id: str, image_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    text, image = results.get(text_id), results.get(image_id)
    labelled = (("recipe data request", text_id, text), ("image request", image_id, image))
    failures = [(what, r) for what, _, r in labelled if isinstance(r, Failure)]
    for what, cid, r in labelled:
        if r is None:
            failures.append((what, Failure(cid, "missing", None, "no result came back")))
    if not failures:
        assert isinstance(text, Success) and isinstance(image, Success)
        return text.body, image.body
    what, failure = failures[0]
    if len(failures) == 2:
        what = f"{what} (and {failures[1][0]}: {failures[1][1].describe()})"
    partial = {r.custom_id: r.body for _, _, r in labelled if isinstance(r, Success)}
    if partial:
        raise PartialFailureError(what, failure, partial)
    if failure.kind == "batch_failed":
        raise BatchFailedError(what, failure)
    if failure.kind in ("expired", "cancelled"):
        raise BatchExpiredError(what, failure)
    raise RequestFailedError(what, failure)


def parse_structured(custom_id: str, body: dict[str, Any], schema: type[T]) -> tuple[T, Usage]:
    """Parse a ``/v1/responses`` body locally, as ``responses.parse`` would."""
    try:
        response = Response.model_validate(body)
    except ValidationError as err:
        raise InvalidResponseError(custom_id, "not a Responses API object", str(body)) from err
    if response.status == "incomplete":
        reason = response.incomplete_details.reason if response.incomplete_details else None
        raise IncompleteResponseError(custom_id, reason)
    for item in response.output:
        if item.type == "message":
            for part in item.content:
                if part.type == "refusal":
                    raise RefusalError(custom_id, part.refusal)
    text = response.output_text
    try:
        data = schema.model_validate_json(text)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise InvalidResponseError(
            custom_id, f"does not match {schema.__name__} at {where}: {first['msg']}", text
        ) from err
    usage = Usage()
    if response.usage:
        usage = Usage(
            input_tokens=response.usage.input_tokens,
            cached_input_tokens=response.usage.input_tokens_details.cached_tokens or 0,
            output_tokens=response.usage.output_tokens,
        )
    return data, usage


def decode_image(custom_id: str, body: dict[str, Any], expected_format: str) -> tuple[bytes, Usage]:
    """The first image's bytes, checked to be the format we asked for."""
    try:
        encoded = body["data"][0]["b64_json"]
        image = base64.b64decode(encoded, validate=True)
    except (KeyError, IndexError, TypeError, binascii.Error) as err:
        raise InvalidResponseError(
            custom_id, "no base64 image in data[0].b64_json", str(body)
        ) from err
    if not image.startswith(_MAGIC[expected_format]):
        raise InvalidResponseError(custom_id, f"image is not {expected_format}", repr(image[:16]))
    raw = body.get("usage") or {}
    details = raw.get("input_tokens_details") or {}
    usage = Usage(
        input_tokens=int(raw.get("input_tokens", 0)),
        image_input_tokens=int(details.get("image_tokens", 0) or 0),
        output_tokens=int(raw.get("output_tokens", 0)),
    )
    return image, usage


def _cost(catalog: Catalog, custom_id: str, model: str, tier: Tier, usage: Usage) -> RequestCost:
    return RequestCost(custom_id, model, tier, usage, catalog.cost(model, tier, usage))


__all__ = ["Generation", "GenerationError", "RequestCost", "generate_data_and_image"]
