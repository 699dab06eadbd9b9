"""What the job commands do with a server, and what they share with local runs.

Two ways to run a job:

- **server** (``--server URL`` or ``BATCHCOOK_SERVER_URL``): submit over HTTP and follow
  ``GET /api/jobs/{id}`` — this module, which never loads DBOS.
- **in-process** (no server configured): ``cli_local.py`` opens the system database and
  runs or queues the job itself.

Choosing and following jobs (``jobs``, ``jobs --follow``, ``--wait``) is the same for both:
only the reader differs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from rich.console import Console

from batchcook.cli_follow import Estimates, Estimator, Reader, follow_jobs, no_estimate
from batchcook.config import Settings
from batchcook.errors import BatchcookError
from batchcook.jobs import Job

__all__ = [
    "NoSuchJobs",
    "ServerClient",
    "ServerError",
    "follow",
    "follow_jobs",
    "missing_ids",
    "run_bulk_on_server",
    "run_on_server",
    "select_and_follow",
    "select_jobs",
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
