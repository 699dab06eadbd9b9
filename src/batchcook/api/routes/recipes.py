"""Starting recipe jobs: create (one, or many at once) and modify by API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from batchcook.api import docs
from batchcook.api.deps import api_key, api_key_or_query, app_state
from batchcook.api.problems import json_body
from batchcook.api.routes.answers import start_jobs
from batchcook.inputs import build_bulk, build_job
from batchcook.jobs import JobKind

router = APIRouter()


async def _start_one(request: Request, kind: JobKind, fields: dict[str, Any]) -> JSONResponse:
    """A create (``prompt``, ``db``) or a modify (``request``, ``page_id``) from its fields."""
    create = kind == "create"
    job = build_job(
        kind,
        fields.get("prompt" if create else "request"),
        app_state(request).settings,
        mode=fields.get("mode"),
        request_id=fields.get("request_id"),
        database_id=fields.get("db") if create else None,
        page_id=None if create else fields.get("page_id"),
    )
    message = "Recipe creation in progress" if create else "Recipe modification in progress"
    return await start_jobs(request, [job], message)


@router.post(
    "/api/recipes/bulk", status_code=202, responses=docs.ERRORS, dependencies=[Depends(api_key)]
)
async def create_bulk(request: Request) -> JSONResponse:
    """Many recipes in one request: one job per prompt, all validated first."""
    body = await json_body(request)
    jobs = build_bulk(
        body.get("prompts"),
        app_state(request).settings,
        mode=body.get("mode"),
        database_id=body.get("db"),
        request_id=body.get("request_id"),
    )
    return await start_jobs(request, jobs, f"{len(jobs)} recipe creations in progress", listed=True)


@router.get("/api/recipes", **docs.STARTS_JOBS, dependencies=[Depends(api_key_or_query)])
@router.get("/recipes", include_in_schema=False, dependencies=[Depends(api_key_or_query)])
async def create_by_get(request: Request) -> JSONResponse:
    """For phone shortcuts: everything in the query string, ``?key=`` allowed."""
    return await _start_one(request, "create", dict(request.query_params))


@router.post("/api/recipes", **docs.STARTS_JOBS, dependencies=[Depends(api_key)])
@router.post("/recipes", include_in_schema=False, dependencies=[Depends(api_key)])
async def create_by_post(request: Request) -> JSONResponse:
    return await _start_one(request, "create", await json_body(request))


@router.post("/api/jobs/modify", **docs.STARTS_JOBS, dependencies=[Depends(api_key)])
async def modify_by_api(request: Request) -> JSONResponse:
    return await _start_one(request, "modify", await json_body(request))
