"""What jobs cost and saved, by day and model: ``batchcook costs``.

Savings are the same tokens at the standard price minus what the tier billed (nothing for
standard calls), from the catalog, so a user sees what the Batch API is worth to them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from batchcook.generation.catalog import Catalog, Usage
from batchcook.jobs import Job


@dataclass(frozen=True)
class CostRow:
    day: str
    model: str
    tier: str
    requests: int
    usd: float
    saved_usd: float


def saved(catalog: Catalog, model: str, tier: str, usage: Usage) -> float:
    info = catalog.find(model)
    if tier == "standard" or info is None:
        return 0.0
    try:
        return max(0.0, catalog.cost(model, "standard", usage) - catalog.cost(model, tier, usage))  # type: ignore[arg-type]
    except ValueError:  # no standard (or tier) price listed
        return 0.0


def by_day_and_model(
    jobs: Iterable[Job], catalog: Catalog, since: date | None = None
) -> list[CostRow]:
    """One row per (day the job was created, model, tier), oldest day first."""
    totals: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for job in jobs:
        day = job.created_at[:10]
        if since is not None and day < since.isoformat():
            continue
        for cost in job.costs:
            row = totals[(day, cost.model, cost.tier)]
            usage = Usage(input_tokens=cost.input_tokens, output_tokens=cost.output_tokens)
            row[0] += 1
            row[1] += cost.usd
            row[2] += saved(catalog, cost.model, cost.tier, usage)
    return [
        CostRow(day, model, tier, int(n), usd, save)
        for (day, model, tier), (n, usd, save) in sorted(totals.items())
    ]
