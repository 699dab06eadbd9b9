"""Waiting for jobs to reach a status, in-process (the engine) or over the HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

from batchcook.jobs import Job
from batchcook.testing.polling import poll, poll_async
from batchcook.workflows import engine

ENDED = ("succeeded", "failed")


async def wait_for(job_id: str, statuses: tuple[str, ...] = ENDED, timeout: float = 30) -> Job:
    """The job once its status is one of ``statuses``."""
    last: list[Job | None] = [None]

    async def check() -> Job | None:
        last[0] = job = await engine.get_job(job_id)
        return job if job is not None and job.status in statuses else None

    try:
        return await poll_async(check, f"job {job_id} to be {'/'.join(statuses)}", timeout)
    except TimeoutError as error:
        raise AssertionError(f"{error}; stuck at {last[0] and last[0].status}") from None


async def wait_all(job_ids: list[str], timeout: float = 60) -> list[Job]:
    """Every job once all have ended."""

    async def check() -> list[Job] | None:
        jobs = [await engine.get_job(j) for j in job_ids]
        ended = [j for j in jobs if j is not None and j.status in ENDED]
        return ended if len(ended) == len(job_ids) else None

    return await poll_async(check, f"{len(job_ids)} jobs to end", timeout)


def wait_job(
    url: str,
    job_id: str,
    statuses: tuple[str, ...] = ENDED,
    timeout: float = 30,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``GET /api/jobs/{id}`` once the job is in one of ``statuses``; ``_seen`` lists the
    statuses it was seen in on the way."""
    seen: list[str] = []

    def check() -> dict[str, Any] | None:
        r = httpx.get(f"{url}/api/jobs/{job_id}", headers=headers)
        if r.status_code != 200:
            return None
        job: dict[str, Any] = r.json()
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        return {**job, "_seen": seen} if job["status"] in statuses else None

    try:
        return poll(check, f"job {job_id} to be {'/'.join(statuses)}", timeout, interval=0.02)
    except TimeoutError as error:
        raise AssertionError(f"{error}; seen {seen}") from None
