"""The same requests as synchronous calls: ``standard`` (full price) or ``flex`` (batch price).

Results come back in the toolkit's shape (``Success`` / ``Failure``) so the caller reads a
batch line and a direct answer the same way.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import openai
from openai import AsyncOpenAI

from batchcook.generation.batch.jsonl import BatchRequest
from batchcook.generation.batch.results import Failure, Result, Success

log = logging.getLogger(__name__)

FLEX_TIMEOUT = 900.0  # the flex guide's advice: 15 minutes, not the SDK's default 10
Tier = Literal["standard", "flex"]


async def call(
    client: AsyncOpenAI, request: BatchRequest, tier: Tier = "standard"
) -> tuple[Result, Tier]:
    """Send one request now. Returns its result and the tier it was actually billed at.

    Flex can answer 429 "resource unavailable" (not billed). The SDK retries that with
    backoff; if it still fails we fall back to the standard tier, as the flex guide advises.
    """
    body: dict[str, Any] = dict(request.body)
    path = request.endpoint.removeprefix("/v1")
    if tier == "flex":
        try:
            answer = await client.with_options(timeout=FLEX_TIMEOUT).post(
                path, body={**body, "service_tier": "flex"}, cast_to=object
            )
            return Success(request.custom_id, _as_dict(answer), batch_id=""), "flex"
        except openai.RateLimitError:
            log.warning(
                "flex capacity unavailable for %s; using the standard tier", request.custom_id
            )
        except openai.APIStatusError as err:
            return _failure(request.custom_id, err), "flex"
    try:
        answer = await client.post(path, body=body, cast_to=object)
    except openai.APIStatusError as err:
        return _failure(request.custom_id, err), "standard"
    return Success(request.custom_id, _as_dict(answer), batch_id=""), "standard"


def _as_dict(answer: object) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise TypeError(f"expected a JSON object from the API, got {type(answer).__name__}")
    return answer


def _failure(custom_id: str, err: openai.APIStatusError) -> Failure:
    body = err.body if isinstance(err.body, dict) else {}
    return Failure(
        custom_id,
        "http_error",
        body.get("code") or err.code,
        str(body.get("message") or err.message),
        None,
        err.status_code,
    )
