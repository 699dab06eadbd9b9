"""Heartbeats on the shared database: workers that start together, stale executors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from cli_procs import PG_ADMIN, fresh_database, postgres_available

from batchcook.workflows import executors, sweep
from batchcook.workflows.names import (
    COLLECT_QUEUE,
    COLLECT_ROUND,
    CREATE_RECIPE,
    FOLLOW_ROUND,
    MODIFY_RECIPE,
    QUEUE,
)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_starts_and_stale_executors(backend: str, tmp_path: Path) -> None:
    if backend == "postgres" and not postgres_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with fresh_database(backend, tmp_path) as url:
        if backend == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"')
        # Workers starting together all create the heartbeat table (a race on Postgres).
        with ThreadPoolExecutor(8) as pool:
            engines = list(pool.map(lambda _: executors.connect(url), range(8)))
        try:
            engine = engines[0]
            executors.beat(engine, "w-alive", now=1000.0)
            executors.beat(engine, "w-dead", now=900.0)
            assert executors.stale(engine, older_than=60, now=1000.0) == ["w-dead"]
            executors.forget(engine, "w-dead")
            assert executors.stale(engine, older_than=60, now=1000.0) == []
        finally:
            for e in engines:
                e.dispose()


def test_a_dead_executors_rounds_resume_off_the_job_queue() -> None:
    """Jobs asleep in every job-queue slot wait for their round's follower: a follower
    resumed onto that queue would wait for them in turn (seen in the scale-out test)."""
    assert sweep.queue_for(CREATE_RECIPE) == QUEUE
    assert sweep.queue_for(MODIFY_RECIPE) == QUEUE
    assert sweep.queue_for(COLLECT_ROUND) == COLLECT_QUEUE
    assert sweep.queue_for(FOLLOW_ROUND) is None  # DBOS's internal queue: no slot limit
    assert sweep.queue_for("sweep") is None
