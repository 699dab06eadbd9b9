"""The job index: what the ``batchcook_jobs*`` gauges need of each job, one small row a job.

A scrape covers the latest ``BATCHCOOK_METRICS_JOB_WINDOW`` jobs. Read from DBOS, each
unfinished job's record costs two queries — under a burst of a thousand POSTs, seconds per
scrape, on the API's own event loop and connection pool. So a job writes its counted fields
here each time it publishes its record, and a scrape reads them for the whole window in one
query. Rows of finished jobs beyond the window are pruned by the sweep, so the table stays
at about the window's size (a few hundred bytes a row).
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Column, Float, MetaData, String, Table, Text, delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from batchcook.jobs import TERMINAL_STATUSES, BatchState, Job
from batchcook.workflows.executors import shared

metadata = MetaData()
index = Table(
    "batchcook_job_index",
    metadata,
    Column("job_id", String(200), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("written_at", Float, nullable=False, index=True),
    Column("counted", Text, nullable=False),  # JSON: the fields the gauges read
)
CHUNK = 500  # ids per IN (...) list


def _engine(url: str) -> Engine:
    return shared(url, metadata)


def counted(job: Job) -> Job:
    """The job with only what the gauges count: status, kind, mode, costs and the
    resubmitted batches' endpoints (no prompt, no page, no error text)."""
    return Job(
        id=job.id,
        kind=job.kind,
        status=job.status,
        prompt="",
        mode=job.mode,
        costs=job.costs,
        batches=[
            BatchState(id="", endpoint=b.endpoint, attempt=b.attempt)
            for b in job.batches
            if b.attempt > 0
        ],
    )


def row(job: Job) -> str:
    """The job's row as stored: what a writer compares to know whether it changed."""
    return counted(job).model_dump_json(exclude_defaults=True)


def put(url: str, job: Job, written: str | None = None) -> None:
    """Write the job's row (``written``: ``row(job)`` if the caller has it already). A
    replayed publish writes the same again: harmless."""
    values = {"status": job.status, "written_at": time.time(), "counted": written or row(job)}
    with _engine(url).begin() as conn:
        if conn.execute(update(index).where(index.c.job_id == job.id).values(**values)).rowcount:
            return
        try:
            with conn.begin_nested():
                conn.execute(index.insert().values(job_id=job.id, **values))
        except IntegrityError:  # written meanwhile by another run of the same publish
            conn.execute(update(index).where(index.c.job_id == job.id).values(**values))


def read(url: str, job_ids: list[str]) -> dict[str, Job]:
    """The rows of ``job_ids`` that exist, as (counted) jobs."""
    found: dict[str, Job] = {}
    with _engine(url).begin() as conn:
        for start in range(0, len(job_ids), CHUNK):
            chunk = job_ids[start : start + CHUNK]
            rows = conn.execute(
                select(index.c.job_id, index.c.counted).where(index.c.job_id.in_(chunk))
            )
            for row in rows:
                found[row.job_id] = Job.model_validate(json.loads(row.counted))
    return found


def prune(url: str, keep: int) -> int:
    """Delete the rows of finished jobs older than the latest ``keep`` rows."""
    with _engine(url).begin() as conn:
        newest = (
            select(index.c.written_at)
            .order_by(index.c.written_at.desc())
            .offset(max(keep - 1, 0))
            .limit(1)
            .scalar_subquery()
        )
        gone = conn.execute(
            delete(index).where(index.c.status.in_(TERMINAL_STATUSES), index.c.written_at < newest)
        )
        return gone.rowcount or 0


def from_input(workflow_input: Any) -> Job | None:
    """A job not yet started has no row: its request, from the workflow's input."""
    args = workflow_input.get("args") if isinstance(workflow_input, dict) else None
    if not args:
        return None
    try:
        return counted(Job.model_validate(args[0]))
    except ValueError:
        return None
