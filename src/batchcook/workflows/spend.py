"""What jobs spend, kept as jobs start and end, so a budget check is one small query.

A job reserves its estimate (an upper bound) when it is admitted, and its actual cost
replaces the estimate when it ends. Spend in a period is then the sum over the jobs created
in it: actual costs for finished jobs, estimates for running ones. Reading every job record
instead would grow with the number of jobs (as the metrics scrape did).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import Boolean, Column, Float, MetaData, String, Table, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from batchcook.workflows.executors import shared

metadata = MetaData()
spend = Table(
    "batchcook_spend",
    metadata,
    Column("job_id", String(200), primary_key=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("usd", Float, nullable=False),
    Column("final", Boolean, nullable=False, default=False),
)


def _engine(url: str) -> Engine:
    return shared(url, metadata)


def spent_since(url: str, since: float) -> float:
    """USD of the jobs created since ``since`` (epoch seconds): actual or reserved."""
    with _engine(url).begin() as conn:
        total = conn.execute(
            select(func.coalesce(func.sum(spend.c.usd), 0.0)).where(spend.c.created_at >= since)
        ).scalar_one()
    return float(total)


#: Ids per ``IN (...)`` query: one query for any bulk request of the default size, and well
#: under the bound-parameter limits of SQLite (32,766) and PostgreSQL (65,535).
KNOWN_CHUNK = 5000


def known(url: str, job_ids: Sequence[str]) -> set[str]:
    """Which of ``job_ids`` were admitted (or settled) before, in one query, not one per
    job of a bulk request."""
    found: set[str] = set()
    with _engine(url).begin() as conn:
        for start in range(0, len(job_ids), KNOWN_CHUNK):
            chunk = list(job_ids[start : start + KNOWN_CHUNK])
            rows = conn.execute(select(spend.c.job_id).where(spend.c.job_id.in_(chunk)))
            found.update(str(row[0]) for row in rows)
    return found


def reserve(url: str, job_id: str, usd: float, at: float | None = None) -> bool:
    """Reserve ``usd`` for a new job; False when the job was admitted before (same id)."""
    try:
        with _engine(url).begin() as conn:
            conn.execute(
                spend.insert().values(
                    job_id=job_id,
                    created_at=time.time() if at is None else at,
                    usd=usd,
                    final=False,
                )
            )
        return True
    except IntegrityError:
        return False


def settle(url: str, job_id: str, usd: float) -> None:
    """The job ended: its actual cost replaces the reservation (a job never admitted through
    a budget check, e.g. one started by the library, is recorded now)."""
    with _engine(url).begin() as conn:
        done = conn.execute(
            update(spend).where(spend.c.job_id == job_id).values(usd=usd, final=True)
        )
        if not done.rowcount:
            conn.execute(
                spend.insert().values(job_id=job_id, created_at=time.time(), usd=usd, final=True)
            )
