"""The cost estimate: prices from the catalog, the image-token table, an upper bound."""

from __future__ import annotations

import pytest

from batchcook.config import Settings
from batchcook.generation.catalog import load_catalog
from batchcook.generation.estimate import estimate, image_output_tokens, tiers_for
from batchcook.generation.requests import job_requests
from batchcook.recipes.prompts import SYSTEM_INSTRUCTIONS, image_prompt
from batchcook.recipes.schema import Recipe


def _estimate(mode: str, **overrides: object) -> float:
    settings = Settings(**overrides)  # type: ignore[arg-type]
    requests = job_requests(
        "j", "pasta carbonara", SYSTEM_INSTRUCTIONS, Recipe, image_prompt("pasta"), settings
    )
    return estimate(list(requests), tiers_for(mode, settings), load_catalog()).usd  # type: ignore[arg-type]


def test_batch_costs_half_of_standard() -> None:
    assert _estimate("batch") == pytest.approx(_estimate("standard") / 2)


def test_the_text_output_budget_counts_in_full() -> None:
    small, large = _estimate("batch", max_output_tokens=1000), _estimate("batch")
    per_token = load_catalog().get("gpt-5.6-luna").prices["batch"].output / 1e6
    assert large - small == pytest.approx((16000 - 1000) * per_token)


def test_image_tokens_follow_the_table_and_scale_with_area() -> None:
    assert image_output_tokens("medium", "1536x1024") == 1568
    assert image_output_tokens("auto", "auto") == 1056
    assert image_output_tokens("high", "2048x2048") == 4 * 4160
