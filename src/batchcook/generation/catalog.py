"""Models and prices as data.

Model names retire and prices change; both live in ``models.toml`` (or the file named by
``BATCHCOOK_CATALOG``) so that a retirement is a one-line data change, and so the emulator
accepts exactly the models the service may ask for.
"""

from __future__ import annotations

import tomllib
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from batchcook.errors import BatchcookError

Tier = Literal["standard", "batch", "flex"]
Endpoint = Literal["/v1/responses", "/v1/images/generations"]


class Price(BaseModel):
    """USD per 1M tokens."""

    input: float
    cached_input: float = 0.0
    output: float
    image_input: float = 0.0


class ModelInfo(BaseModel):
    name: str
    endpoint: Endpoint
    batch: bool = True
    flex: bool = False
    reasoning: bool = False
    shutdown: date | None = None
    replacement: str | None = None
    prices: dict[Tier, Price] = Field(default_factory=dict)

    def retired(self, today: date) -> bool:
        """True once the shutdown date has come: the API no longer serves the model."""
        return self.shutdown is not None and today >= self.shutdown

    def retiring_within(self, today: date, days: int) -> bool:
        return self.shutdown is not None and (self.shutdown - today).days <= days


class Usage(BaseModel):
    """Token counts of one request, in the shape both endpoints share."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    image_input_tokens: int = 0
    output_tokens: int = 0


class UnknownModel(BatchcookError, LookupError):
    """A model the catalog does not list."""


class Catalog(BaseModel):
    models: dict[str, ModelInfo]

    def get(self, name: str) -> ModelInfo:
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models))
            raise UnknownModel(
                f"model {name!r} is not in the catalog; known models: {known}. "
                "Add it to models.toml (or BATCHCOOK_CATALOG) with its prices."
            ) from None

    def find(self, name: str) -> ModelInfo | None:
        return self.models.get(name)

    def cost(self, model: str, tier: Tier, usage: Usage) -> float:
        """USD for one request; cached tokens are a subset of input tokens, as in OpenAI's usage."""
        info = self.get(model)
        price = info.prices.get(tier)
        if price is None:
            raise ValueError(f"{model} has no {tier} price in the catalog")
        text_in = usage.input_tokens - usage.cached_input_tokens - usage.image_input_tokens
        return (
            max(text_in, 0) * price.input
            + usage.cached_input_tokens * price.cached_input
            + usage.image_input_tokens * price.image_input
            + usage.output_tokens * price.output
        ) / 1_000_000


def parse_catalog(data: dict[str, object]) -> Catalog:
    raw = data.get("models", {})
    assert isinstance(raw, dict)
    return Catalog(models={name: ModelInfo(name=name, **spec) for name, spec in raw.items()})


@lru_cache(maxsize=8)
def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog from ``path``, or the one shipped with the package."""
    if path is None:
        text = resources.files("batchcook.generation").joinpath("models.toml").read_text()
    else:
        text = Path(path).read_text()
    return parse_catalog(tomllib.loads(text))
