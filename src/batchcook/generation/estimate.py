"""What requests will cost at most, before they are sent: prices from the catalog.

A user asks "what will this cost?" before paying, and a budget cap must refuse a job before
its batches exist. The text part is bounded by its output budget (``max_output_tokens``:
reasoning included), so the estimate is an upper bound, usually well above what a recipe
costs; the image part is fixed by size and quality (OpenAI's image-token table).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from batchcook.config import Mode, Settings
from batchcook.generation.batch.jsonl import BatchRequest
from batchcook.generation.catalog import Catalog, Tier, Usage

CHARS_PER_TOKEN = 4  # OpenAI's rule of thumb for English text
# Output tokens per image by quality, at 1024x1024 and 1536x1024 (OpenAI's image guide table
# for the GPT image models); other sizes scale with their area.
IMAGE_OUTPUT_TOKENS: dict[tuple[str, int], int] = {
    ("low", 1024 * 1024): 272,
    ("medium", 1024 * 1024): 1056,
    ("high", 1024 * 1024): 4160,
    ("low", 1536 * 1024): 400,
    ("medium", 1536 * 1024): 1568,
    ("high", 1536 * 1024): 6208,
}


def image_area(size: str | None) -> int:
    """Pixels of a ``WxH`` size; ``auto`` (or nothing) counts as 1024x1024."""
    if not size or size == "auto":
        return 1024 * 1024
    width, height = size.split("x")
    return int(width) * int(height)


def image_output_tokens(quality: str | None, size: str | None) -> int:
    billed = "medium" if quality in (None, "auto") else quality
    area = image_area(size)
    per_square = IMAGE_OUTPUT_TOKENS.get((str(billed), 1024 * 1024), 1056)
    return IMAGE_OUTPUT_TOKENS.get((str(billed), area), round(per_square * area / 1024**2))


def text_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


@dataclass(frozen=True)
class PartEstimate:
    custom_id: str
    endpoint: str
    model: str
    tier: str
    input_tokens: int
    output_tokens: int
    usd: float


@dataclass(frozen=True)
class Estimate:
    parts: tuple[PartEstimate, ...]

    @property
    def usd(self) -> float:
        return sum(p.usd for p in self.parts)

    def public(self) -> dict[str, Any]:
        return {
            "usd_at_most": round(self.usd, 6),
            "parts": [
                {
                    "endpoint": p.endpoint,
                    "model": p.model,
                    "tier": p.tier,
                    "input_tokens": p.input_tokens,
                    "output_tokens_at_most": p.output_tokens,
                    "usd_at_most": round(p.usd, 6),
                }
                for p in self.parts
            ],
        }


def tiers_for(mode: Mode, settings: Settings) -> dict[str, Tier]:
    """The tier each endpoint is billed at in ``mode``."""
    if mode == "batch":
        return {"/v1/responses": "batch", "/v1/images/generations": "batch"}
    if mode == "flex":
        image: Tier = "batch" if settings.flex_image == "batch" else "standard"
        return {"/v1/responses": "flex", "/v1/images/generations": image}
    return {"/v1/responses": "standard", "/v1/images/generations": "standard"}


def estimate(requests: list[BatchRequest], tiers: dict[str, Tier], catalog: Catalog) -> Estimate:
    """The most ``requests`` can cost at ``tiers``' prices (models must be in the catalog)."""
    parts = []
    for request in requests:
        body = request.body
        model = str(body.get("model"))
        tier = tiers[request.endpoint]
        if request.endpoint == "/v1/images/generations":
            tokens_in = text_tokens(str(body.get("prompt", "")))
            tokens_out = image_output_tokens(body.get("quality"), body.get("size")) * int(
                body.get("n", 1) or 1
            )
        else:
            # Everything sent counts: instructions, input and the structured-output schema.
            tokens_in = text_tokens(json.dumps(body, ensure_ascii=False))
            tokens_out = int(body.get("max_output_tokens") or 0)
        usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out)
        parts.append(
            PartEstimate(
                request.custom_id,
                request.endpoint,
                model,
                tier,
                tokens_in,
                tokens_out,
                catalog.cost(model, tier, usage),
            )
        )
    return Estimate(tuple(parts))
