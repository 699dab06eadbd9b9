"""For the operator's tools: the health check and the Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from batchcook import instrument
from batchcook.api.deps import api_key_or_query, app_state
from batchcook.workflows import job_metrics

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(api_key_or_query)])
async def metrics(request: Request) -> Response:
    """Job gauges from the job records plus this process's counters (Prometheus can send
    the API key as a bearer token)."""
    body = await job_metrics.exposition(app_state(request).settings)
    return Response(body, media_type=instrument.CONTENT_TYPE)
