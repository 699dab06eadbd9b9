"""The CLI's commands run on the system database itself (no ``--server``).

Each opens the engine for the one command (``service.local_engine``: an executor id of its
own, so opening the database never steals a live worker's jobs) and closes it after. A job
run with ``--wait`` runs in this process; without it the job is only queued, for a worker
(``batchcook worker``, a server, or a later ``--wait``). Ctrl-C leaves a job pending, and the
next worker or ``--wait`` run on the same host adopts it (its process is gone).

Importing this module starts nothing but loads DBOS (~1 s): ``cli.py`` imports it only for
commands that run here, so ``--server`` runs never pay for it.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from rich.console import Console

from batchcook import service
from batchcook.api.metrics_server import serve_in_thread
from batchcook.cli_follow import Estimates
from batchcook.cli_jobs import follow, follow_jobs, select_and_follow, select_jobs
from batchcook.config import Settings, without_password
from batchcook.jobs import Job

__all__ = [
    "cancel_local",
    "follow_local",
    "read_jobs_local",
    "retry_local",
    "run_bulk_local",
    "run_local",
    "run_worker",
]


async def read_local(job_id: str) -> Job | None:
    try:
        return await service.read(job_id)
    except service.NoSuchJob:
        return None


async def list_local(status: str | None, limit: int) -> list[Job]:
    return await service.latest(status, limit)


def _interval(settings: Settings) -> float:
    return min(0.5, settings.poll_interval)


def run_local(settings: Settings, job: Job, *, wait: bool, console: Console) -> Job:
    """Start ``job`` (admitted already); with ``wait``, run it here until it ends."""

    async def run() -> Job:
        await service.start([job], enqueue=not wait)
        if not wait:
            return await read_local(job.id) or job
        return await follow(
            job.id, read_local, console, estimate=Estimates(settings), interval=_interval(settings)
        )

    with service.local_engine(settings, worker=wait) as (settings, _):
        return asyncio.run(run())


def run_bulk_local(
    settings: Settings, jobs: list[Job], *, wait: bool, console: Console
) -> list[Job]:
    """Start ``jobs`` (admitted already): queued for a worker, or, with ``wait``, run here
    together and followed until every one has ended."""

    async def start_all() -> list[Job]:
        await service.start(jobs, enqueue=not wait)
        if not wait:
            return jobs
        ids = [job.id for job in jobs]
        return await follow_jobs(
            ids, read_local, console, estimate=Estimates(settings), interval=_interval(settings)
        )

    with service.local_engine(settings, worker=wait) as (settings, _):
        return asyncio.run(start_all())


def retry_local(settings: Settings, job_id: str, *, wait: bool, console: Console) -> Job:
    """Start a retry of a failed job (admitted as a new job would be); with ``wait``, run it
    here. ``service.NoSuchJob``, ``NotRetryable``, ``NotReady``, ``BudgetExceeded``."""

    async def retry() -> Job:
        job = await service.retry(job_id, settings, enqueue=not wait)
        if not wait:
            return await service.read(job.id)
        return await follow(
            job.id,
            read_local,
            console,
            estimate=Estimates(settings),
            interval=_interval(settings),
        )

    with service.local_engine(settings, worker=wait) as (settings, _):
        return asyncio.run(retry())


def cancel_local(settings: Settings, job_id: str) -> Job:
    """Cancel a job (its batches too): ``service.NoSuchJob``, ``service.AlreadyEnded``."""
    with service.local_engine(settings, worker=False):
        return asyncio.run(service.cancel(job_id))


def read_jobs_local(
    settings: Settings, job_ids: Sequence[str], status: str | None, limit: int
) -> list[Job]:
    """Read job records without running anything: the jobs named that exist, else the
    latest."""
    with service.local_engine(settings, worker=False):
        return asyncio.run(select_jobs(job_ids, status, limit, read_local, list_local))


def follow_local(
    settings: Settings,
    job_ids: Sequence[str],
    status: str | None,
    limit: int,
    console: Console,
) -> list[Job]:
    """``jobs --follow`` on the system database. Only reads: the jobs run in whichever
    worker, server or ``--wait`` process has them, so stopping this stops nothing."""
    with service.local_engine(settings, worker=False) as (settings, _):
        return asyncio.run(
            select_and_follow(
                job_ids,
                status,
                limit,
                read_local,
                list_local,
                console,
                estimate=Estimates(settings),
                interval=_interval(settings),
            )
        )


def run_worker(settings: Settings, console: Console, stop: threading.Event | None = None) -> None:
    """Run queued jobs (and recover this executor's) until SIGTERM/SIGINT, then stop DBOS.

    The executor id is ``DBOS__VMID`` (default ``local``): a restarted worker with the
    same id recovers the jobs its predecessor was running.
    """
    stop = stop or threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with service.local_engine(settings, worker=True, cli=False) as (settings, adopted):
            serve_in_thread(settings)  # BATCHCOOK_METRICS_PORT: this worker's own counters
            console.print(
                f"worker {settings.executor_id} on {without_password(settings.database())}"
                + (f"; adopted {len(adopted)} job(s) of stopped CLI runs" if adopted else "")
            )
            stop.wait()
            console.print("stopping worker; unfinished jobs resume at its next start")
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
