"""What the ``create``/``modify``/``jobs``/``worker`` commands do, kept out of ``cli.py``.

Two ways to run a job:

- **in-process** (no server configured): this process starts DBOS on the system database
  and runs the workflow itself. Every CLI process gets its own executor id
  (``cli-<host>-<pid>``) so that opening the database never "recovers" — steals — the jobs
  a live worker or server is running under theirs. A job left behind by a CLI process that
  died (Ctrl-C, crash) is *adopted* by the next worker or ``--wait`` CLI on the same host:
  its pid is gone, so its pending workflows are resumed on the recipes queue.
- **server** (``--server URL`` or ``BATCHCOOK_SERVER_URL``): submit over HTTP and follow
  ``GET /api/jobs/{id}``.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence
from types import FrameType
from typing import Any

import httpx
from rich.console import Console

from batchcook.api.metrics_server import serve_in_thread
from batchcook.cli_follow import Estimates, Estimator, Reader, follow_jobs, no_estimate
from batchcook.config import Settings, without_password
from batchcook.errors import BatchcookError
from batchcook.inputs import InputError, build_job, check_mode
from batchcook.jobs import TERMINAL_STATUSES, Job
from batchcook.workflows.orphans import adopt_orphans, use_cli_executor

__all__ = [
    "InputError",
    "NoSuchJobs",
    "ServerError",
    "build_job",
    "cancel_local",
    "check_mode",
    "follow_local",
    "read_jobs_local",
    "retry_local",
    "run_bulk_local",
    "run_bulk_on_server",
    "run_local",
    "run_on_server",
]


class ServerError(BatchcookError, RuntimeError):
    """The batchcook server answered with an error (or could not be reached)."""


# --- following a job ----------------------------------------------------------------------


async def follow(
    job_id: str,
    read: Reader,
    console: Console,
    *,
    estimate: Estimator = no_estimate,
    interval: float = 0.5,
    timeout: float | None = None,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Job:
    """Poll ``read`` and show the job live (its estimate, then its cost) until it ends."""
    [job] = await follow_jobs(
        [job_id], read, console, estimate=estimate, interval=interval, timeout=timeout, pause=pause
    )
    return job


class NoSuchJobs(BatchcookError, LookupError):
    """Jobs asked for by id that the database or the server does not know."""

    def __init__(self, job_ids: list[str]) -> None:
        super().__init__(", ".join(repr(i) for i in job_ids))
        self.job_ids = job_ids


Lister = Callable[[str | None, int], Awaitable[list[Job]]]


async def select_jobs(
    job_ids: Sequence[str], status: str | None, limit: int, read: Reader, listing: Lister
) -> list[Job]:
    """What ``batchcook jobs`` shows: the jobs named that exist, else the latest ``limit``
    (in ``status``)."""
    if not job_ids:
        return await listing(status, limit)
    found = [await read(i) for i in dict.fromkeys(job_ids)]
    return [job for job in found if job is not None]


def missing_ids(job_ids: Sequence[str], found: Sequence[Job]) -> list[str]:
    known = {job.id for job in found}
    return [i for i in dict.fromkeys(job_ids) if i not in known]


async def select_and_follow(
    job_ids: Sequence[str],
    status: str | None,
    limit: int,
    read: Reader,
    listing: Lister,
    console: Console,
    *,
    estimate: Estimator,
    interval: float,
) -> list[Job]:
    """``jobs --follow``: the jobs ``jobs`` would show (chosen once, at the start), followed
    until every one has ended. A job id that does not exist stops it before it starts."""
    found = await select_jobs(job_ids, status, limit, read, listing)
    gone = missing_ids(job_ids, found)
    if gone:
        raise NoSuchJobs(gone)
    ids = [job.id for job in found]
    return await follow_jobs(ids, read, console, estimate=estimate, interval=interval)


# --- in-process -----------------------------------------------------------------------------


async def read_local(job_id: str) -> Job | None:
    from batchcook.workflows import engine  # lazy: DBOS is heavy; --server runs never need it

    return await engine.get_job(job_id)


def run_local(settings: Settings, job: Job, *, wait: bool, console: Console) -> Job:
    """Start ``job`` on the system database; with ``wait``, run it here until it ends.

    Without ``wait`` the job is only enqueued: a worker (``batchcook worker``, a server, or a
    later ``--wait``) runs it. Ctrl-C leaves the job pending for the next process to adopt.
    """
    from batchcook.workflows import engine  # lazy: DBOS is heavy; --server runs never need it

    settings = use_cli_executor(settings)
    engine.launch(settings, worker=wait)
    try:
        return asyncio.run(_run_local(settings, job, wait, console))
    finally:
        engine.shutdown()


def run_bulk_local(
    settings: Settings, jobs: list[Job], *, wait: bool, console: Console
) -> list[Job]:
    """Start ``jobs`` (``create --file``) on the system database: queued for a worker, or,
    with ``wait``, run here together and followed until every one has ended (Ctrl-C leaves
    them pending for the next worker or ``--wait`` run to adopt, as for one job)."""
    from batchcook.workflows import engine  # lazy: DBOS is heavy; --server runs never need it

    async def start_all() -> list[Job]:
        if wait:
            await adopt_orphans()
        for job in jobs:
            await engine.start_job(job, enqueue=not wait)
        if not wait:
            return jobs
        interval = min(0.5, settings.poll_interval)
        ids = [job.id for job in jobs]
        return await follow_jobs(
            ids, read_local, console, estimate=Estimates(settings), interval=interval
        )

    settings = use_cli_executor(settings)
    engine.launch(settings, worker=wait)
    try:
        return asyncio.run(start_all())
    finally:
        engine.shutdown()


def retry_local(settings: Settings, job_id: str, *, wait: bool, console: Console) -> Job | None:
    """Start a retry of a failed job of this system database; with ``wait``, run it here."""
    from batchcook.workflows import engine  # lazy: DBOS is heavy; --server runs never need it

    async def retry() -> Job | None:
        from batchcook.budget import admit  # lazy, like the engine: in-process runs only

        if wait:
            await adopt_orphans()
        old = await engine.get_job(job_id)
        if old is None:
            return None
        job = engine.new_attempt(old)
        await asyncio.to_thread(admit, [job], settings)  # at most what it costs anew
        await engine.start_job(job, enqueue=not wait)
        if not wait:
            return await engine.get_job(job.id) or job
        interval = min(0.5, settings.poll_interval)
        return await follow(
            job.id, read_local, console, estimate=Estimates(settings), interval=interval
        )

    settings = use_cli_executor(settings)
    engine.launch(settings, worker=wait)
    try:
        return asyncio.run(retry())
    finally:
        engine.shutdown()


def cancel_local(settings: Settings, job_id: str) -> tuple[Job | None, bool]:
    """Cancel a job of this system database from here (its batches too): the job, and
    whether this call stopped it (False: it had already ended)."""
    from batchcook.workflows import engine  # lazy: DBOS is heavy; --server runs never need it

    async def cancel() -> tuple[Job | None, bool]:
        before = await engine.get_job(job_id)
        if before is None or before.status in TERMINAL_STATUSES:
            return before, False
        return await engine.cancel_job(job_id), True

    settings = use_cli_executor(settings)
    engine.launch(settings, worker=False)
    try:
        return asyncio.run(cancel())
    finally:
        engine.shutdown()


async def _run_local(settings: Settings, job: Job, wait: bool, console: Console) -> Job:
    from batchcook.workflows import engine  # lazy: DBOS is heavy; --server runs never need it

    if wait:
        await adopt_orphans()
    await engine.start_job(job, enqueue=not wait)
    if not wait:
        return await engine.get_job(job.id) or job
    interval = min(0.5, settings.poll_interval)
    return await follow(
        job.id, read_local, console, estimate=Estimates(settings), interval=interval
    )


async def list_local(status: str | None, limit: int) -> list[Job]:
    from batchcook.workflows import engine  # lazy: DBOS is heavy; --server runs never need it

    return await engine.list_jobs(status=status, limit=limit)


def read_jobs_local(
    settings: Settings, job_ids: Sequence[str], status: str | None, limit: int
) -> list[Job]:
    """Read job records without running anything (own executor id; not a worker): the jobs
    named that exist, else the latest."""
    from batchcook.workflows import engine  # lazy: DBOS is heavy; --server runs never need it

    settings = use_cli_executor(settings)
    engine.launch(settings, worker=False)
    try:
        return asyncio.run(select_jobs(job_ids, status, limit, read_local, list_local))
    finally:
        engine.shutdown()


def follow_local(
    settings: Settings,
    job_ids: Sequence[str],
    status: str | None,
    limit: int,
    console: Console,
) -> list[Job]:
    """``jobs --follow`` on the system database. Only reads: the jobs run in whichever
    worker, server or ``--wait`` process has them, so stopping this stops nothing."""
    from batchcook.workflows import engine  # lazy: DBOS is heavy; --server runs never need it

    settings = use_cli_executor(settings)
    engine.launch(settings, worker=False)
    try:
        return asyncio.run(
            select_and_follow(
                job_ids,
                status,
                limit,
                read_local,
                list_local,
                console,
                estimate=Estimates(settings),
                interval=min(0.5, settings.poll_interval),
            )
        )
    finally:
        engine.shutdown()


# --- server ---------------------------------------------------------------------------------


class ServerClient:
    """The batchcook HTTP API, with the API key as a bearer token when one is set."""

    def __init__(self, base_url: str, settings: Settings, timeout: float = 30.0) -> None:
        headers = {}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout)

    async def __aenter__(self) -> ServerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise ServerError(f"cannot reach {self.base_url}: {err}") from err
        if response.status_code == 404 and path.startswith("/api/jobs/"):
            return None
        if response.status_code >= 400:
            raise ServerError(f"{method} {path} → {response.status_code}: {_detail(response)}")
        return response.json()

    async def submit(self, job: Job) -> str:
        if job.kind == "create":
            body = {
                "prompt": job.prompt,
                "mode": job.mode,
                "db": job.database_id,
                "request_id": job.id.removeprefix("create-"),
            }
            answer = await self._call("POST", "/api/recipes", json=body)
        else:
            body = {"page_id": job.page_id, "request": job.prompt, "mode": job.mode}
            answer = await self._call("POST", "/api/jobs/modify", json=body)
        return str(answer["job_id"])

    async def submit_bulk(self, jobs: list[Job]) -> list[str]:
        items = [
            {"prompt": j.prompt, "mode": j.mode, "request_id": j.id.removeprefix("create-")}
            for j in jobs
        ]
        body = {"prompts": items, "db": jobs[0].database_id if jobs else None}
        answer = await self._call("POST", "/api/recipes/bulk", json=body)
        return [str(item["job_id"]) for item in answer["jobs"]]

    async def retry(self, job_id: str) -> str:
        answer = await self._call("POST", f"/api/jobs/{job_id}/retry")
        return str(answer["job_id"])

    async def cancel(self, job_id: str) -> Job | None:
        data = await self._call("POST", f"/api/jobs/{job_id}/cancel")
        return None if data is None else Job.model_validate(data)

    async def job(self, job_id: str) -> Job | None:
        data = await self._call("GET", f"/api/jobs/{job_id}")
        return None if data is None else Job.model_validate(data)

    async def jobs(self, status: str | None, limit: int) -> list[Job]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        data = await self._call("GET", "/api/jobs", params=params)
        items = data.get("jobs", data) if isinstance(data, dict) else data
        return [Job.model_validate(item) for item in items]


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        found = body.get("error") or body.get("detail") or body.get("message") or body
        if isinstance(found, dict) and "message" in found:  # {"error": {"message": …}}
            return str(found["message"])
        return str(found)
    return str(body)


async def run_on_server(
    url: str, settings: Settings, job: Job, *, wait: bool, console: Console
) -> Job:
    async with ServerClient(url, settings) as server:
        job_id = await server.submit(job)
        if not wait:
            return await server.job(job_id) or job.model_copy(update={"id": job_id})
        return await follow(job_id, server.job, console, estimate=Estimates(settings), interval=1.0)


async def run_bulk_on_server(
    url: str, settings: Settings, jobs: list[Job], *, wait: bool, console: Console
) -> list[Job]:
    """``create --file`` on a server: one request for all the jobs; with ``wait``, follow
    them together until every one has ended."""
    async with ServerClient(url, settings) as server:
        ids = await server.submit_bulk(jobs)
        if not wait:
            return [job.model_copy(update={"id": i}) for job, i in zip(jobs, ids, strict=True)]
        return await follow_jobs(
            ids, server.job, console, estimate=Estimates(settings), interval=1.0
        )


# --- worker ---------------------------------------------------------------------------------


def run_worker(settings: Settings, console: Console, stop: threading.Event | None = None) -> None:
    """Run queued jobs (and recover this executor's) until SIGTERM/SIGINT, then stop DBOS.

    The executor id is ``DBOS__VMID`` (default ``local``): a restarted worker with the
    same id recovers the jobs its predecessor was running.
    """
    from batchcook.workflows import engine  # lazy: DBOS is heavy; --server runs never need it

    stop = stop or threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    engine.launch(settings, worker=True)
    serve_in_thread(settings)  # BATCHCOOK_METRICS_PORT: this worker's own counters
    try:
        adopted = asyncio.run(adopt_orphans())
        executor = settings.executor_id
        console.print(
            f"worker {executor} on {without_password(settings.database())}"
            + (f"; adopted {len(adopted)} job(s) of stopped CLI runs" if adopted else "")
        )
        stop.wait()
        console.print("stopping worker; unfinished jobs resume at its next start")
    finally:
        engine.shutdown()
        for sig, old in previous.items():
            signal.signal(sig, old)
