"""The successful answers that more than one area gives."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from batchcook import budget, service
from batchcook.api.deps import app_state
from batchcook.api.problems import SafeJSONResponse
from batchcook.jobs import Job


def status_url(request: Request, job_id: str) -> str:
    return str(request.url_for("get_job", job_id=job_id))


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
