"""Reading and steering jobs: one, the latest, retry, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from batchcook import service
from batchcook.api import docs
from batchcook.api.deps import api_key, api_key_or_query
from batchcook.api.problems import HTTPProblem, SafeJSONResponse
from batchcook.api.routes.answers import start_jobs
from batchcook.jobs import JOB_STATUSES

router = APIRouter()


@router.get("/api/jobs/{job_id}", name="get_job", dependencies=[Depends(api_key_or_query)])
async def get_job(job_id: str) -> JSONResponse:
    return SafeJSONResponse((await service.read(job_id)).public())


@router.post("/api/jobs/{job_id}/retry", **docs.STARTS_JOBS, dependencies=[Depends(api_key)])
async def retry_job(request: Request, job_id: str) -> JSONResponse:
    """A new attempt of a failed job, reusing every result it paid for."""
    job = await service.next_attempt(job_id)
    # The estimate and the admission are at most what it costs anew.
    return await start_jobs(request, [job], f"Retry of {job_id} in progress")


@router.post("/api/jobs/{job_id}/cancel", dependencies=[Depends(api_key)])
async def cancel_job(job_id: str) -> JSONResponse:
    """Stop a running job and its unfinished batches (their finished lines stay billed)."""
    return SafeJSONResponse((await service.cancel(job_id)).public())


@router.get("/api/jobs", dependencies=[Depends(api_key)])
async def list_jobs(status: str | None = None, limit: int = 50) -> JSONResponse:
    if status is not None and status not in JOB_STATUSES:
        raise HTTPProblem(
            422,
            f"unknown status {status!r}: use one of {', '.join(JOB_STATUSES)}",
            field="status",
        )
    jobs = await service.latest(status, max(1, min(limit, 200)))
    return SafeJSONResponse({"jobs": [j.public() for j in jobs]})
