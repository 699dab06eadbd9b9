from datetime import date

import pytest

from batchcook.costs import by_day_and_model
from batchcook.generation.catalog import load_catalog
from batchcook.jobs import Cost, Job


def _job(day: str, tier: str, usd: float) -> Job:
    cost = Cost(
        custom_id="j-data",
        model="gpt-5.6-luna",
        tier=tier,
        input_tokens=1000,
        output_tokens=2000,
        usd=usd,
    )
    return Job(
        id=f"create-{day}-{tier}",
        kind="create",
        prompt="x",
        created_at=f"{day}T10:00:00+00:00",
        costs=[cost],
    )


def test_rows_by_day_and_model_with_what_batch_saved() -> None:
    jobs = [_job("2026-11-02", "batch", 0.0013), _job("2026-11-01", "standard", 0.0026)]
    jobs.append(_job("2026-11-02", "batch", 0.0013))
    rows = by_day_and_model(jobs, load_catalog())
    assert [(r.day, r.tier, r.requests) for r in rows] == [
        ("2026-11-01", "standard", 1),
        ("2026-11-02", "batch", 2),
    ]
    standard = (1000 * 0.20 + 2000 * 1.20) / 1e6
    assert rows[0].saved_usd == 0 and rows[1].saved_usd == pytest.approx(2 * standard / 2)
    assert [r.day for r in by_day_and_model(jobs, load_catalog(), date(2026, 11, 2))] == [
        "2026-11-02"
    ]
