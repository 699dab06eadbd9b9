"""A job's generation plan: every request it needs, the tier each runs at, and what each is.

One pure function decides this, so the workflow layer never counts endpoints or names them:
it hands the ``batch`` parts to the shared collector, calls the others directly, and gives
every result back to ``interpret`` by role. ``batch``, ``flex`` and ``standard`` are the same
plan with different tiers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel

from batchcook.config import Mode, Settings
from batchcook.generation.batch.jsonl import BatchRequest
from batchcook.generation.catalog import Tier
from batchcook.generation.requests import job_requests

Role = Literal["recipe", "image"]  # how a result is read: structured data, or a picture


@dataclass(frozen=True)
class Part:
    role: Role
    custom_id: str
    endpoint: str
    model: str
    tier: Tier
    body: dict[str, Any]

    def request(self) -> BatchRequest:
        return BatchRequest(self.custom_id, self.endpoint, self.body)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Part:
        return cls(**data)


def plan(
    job_id: str,
    prompt: str,
    instructions: str,
    image_prompt: str,
    schema: type[BaseModel],
    settings: Settings,
    mode: Mode,
) -> list[Part]:
    """The parts of one job. Custom ids derive from the job id, so a re-run plans the same."""
    text, image = job_requests(job_id, prompt, instructions, schema, image_prompt, settings)
    text_tier: Tier = mode
    image_tier: Tier = "standard"
    if mode == "batch" or (mode == "flex" and settings.flex_image == "batch"):
        image_tier = "batch"
    return [
        Part("recipe", text.custom_id, text.endpoint, settings.text_model, text_tier, text.body),
        Part(
            "image", image.custom_id, image.endpoint, settings.image_model, image_tier, image.body
        ),
    ]


def by_role(parts: list[Part]) -> dict[str, str]:
    """role -> custom_id, for reading the results back."""
    return {p.role: p.custom_id for p in parts}
