"""Budget admission on a real SQLite ledger: a request sent again is not counted twice, and
the ledger is asked about all the jobs of a bulk request in one query."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from batchcook import budget
from batchcook.config import Settings
from batchcook.jobs import Job
from batchcook.workflows import spend


def _job(n: int) -> Job:
    return Job(id=f"create-bulk-{n}", kind="create", prompt=f"soup {n}", mode="batch")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'system.sqlite'}"
    return Settings(_env_file=None, database_url=url, daily_budget_usd=100.0)  # type: ignore[call-arg]


def test_known_is_one_query_for_a_bulk_request(settings: Settings) -> None:
    url = settings.database()
    spend.reserve(url, "create-bulk-1", 0.01)
    queries: list[str] = []

    def record(*args: Any) -> None:
        queries.append(str(args[2]))

    engine = spend._engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        seen = spend.known(url, [f"create-bulk-{n}" for n in range(300)])
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen == {"create-bulk-1"}
    assert len([q for q in queries if "batchcook_spend" in q]) == 1
    assert spend.known(url, []) == set()


def test_a_request_sent_again_reserves_only_its_new_jobs(settings: Settings) -> None:
    url = settings.database()
    since = budget.periods(1_000_000.0)["daily"]
    budget.admit([_job(1), _job(2)], settings, now=1_000_000.0)
    first = spend.spent_since(url, since)
    budget.admit([_job(1), _job(2), _job(3)], settings, now=1_000_000.0)
    again = spend.spent_since(url, since)
    one = budget.estimate_job(_job(3), settings).usd
    assert first > 0 and again == pytest.approx(first + one)
