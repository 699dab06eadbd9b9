"""The successful answers that more than one area gives."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.datastructures import URLPath

from batchcook import budget, service
from batchcook.api.deps import app_state
from batchcook.api.problems import SafeJSONResponse
from batchcook.jobs import Job

_ID = "JOB-ID"  # what the cached path holds in place of the job id


def _job_path(request: Request) -> str:
    """Looking a route up by name tries every route in turn (the gallery's too): once per
    app, not once per 202."""
    state = request.app.state
    if getattr(state, "job_path", None) is None:
        state.job_path = request.app.url_path_for("get_job", job_id=_ID)
    return str(state.job_path)


def status_url(request: Request, job_id: str) -> str:
    """What ``request.url_for("get_job", job_id=...)`` gives, behind a proxy's root path
    too."""
    path = URLPath(_job_path(request).replace(_ID, job_id))
    return str(path.make_absolute_url(request.base_url))


def accepted(request: Request, job_id: str, message: str) -> JSONResponse:
    body = {"message": message, "job_id": job_id, "status_url": status_url(request, job_id)}
    return SafeJSONResponse(body, status_code=202)


def dry_run(request: Request) -> bool:
    return request.query_params.get("dry_run", "").lower() in ("1", "true", "yes")


async def start_jobs(
    request: Request, jobs: list[Job], message: str, *, listed: bool = False
) -> JSONResponse:
    """What every route that starts jobs does: the dry-run estimate, or the preflight and
    admission, then every job started and 202. ``listed`` answers with the list of jobs
    (the bulk route, whatever its length), else with the one job's id."""
    state = app_state(request)
    if dry_run(request):
        summary = budget.summary(service.estimate(jobs, state.settings))
        return SafeJSONResponse({"message": "dry run: nothing was sent", **summary})
    await service.admit(jobs, state.settings, today=state.date(), cache=state.schema_cache)
    await service.start(jobs)
    if not listed:
        [job] = jobs
        return accepted(request, job.id, message)
    items: list[dict[str, Any]] = [
        {"job_id": j.id, "status_url": status_url(request, j.id)} for j in jobs
    ]
    return SafeJSONResponse({"message": message, "jobs": items}, status_code=202)
