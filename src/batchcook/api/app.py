"""The HTTP API (FastAPI): the app put together from its parts.

Routes validate and authenticate, then start or read a durable job through the service
layer (``batchcook.service``) and answer at once; all work happens in the workflows. Where
to look: ``routes/`` (one module per area), ``deps.py`` (settings, the API key check),
``problems.py`` (every error's status), ``limits.py`` (the body limit), ``docs.py`` (what
``/docs`` shows).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import date

from fastapi import FastAPI

from batchcook import budget, service
from batchcook.api import docs, problems
from batchcook.api.deps import AppState
from batchcook.api.limits import BodyLimit
from batchcook.api.metrics_server import serve_in_thread
from batchcook.api.problems import SafeJSONResponse
from batchcook.api.redact import redact_access_log
from batchcook.api.routes import jobs, ops, recipes, webhooks
from batchcook.config import Settings
from batchcook.doctor import run_doctor
from batchcook.jobs import Job
from batchcook.web import mount_gallery
from batchcook.workflows.intake import CountRequests

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    worker: bool = True,
    manage_engine: bool = True,
    doctor: bool = False,
    today: Callable[[], date] | None = None,
) -> FastAPI:
    """``manage_engine=False`` when DBOS is already running in this process (tests);
    ``doctor`` logs each failing ``batchcook doctor`` check at start (``serve``); ``today``
    is the date retirements are judged on (tests pin it)."""
    state = AppState(settings, today)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if doctor:
            for check in await run_doctor(settings, state.date()):
                if not check.ok:  # starting anyway: a fix may not need a restart
                    log.warning("doctor: %s: %s", check.check, check.detail)
        async with AsyncExitStack() as running:
            if manage_engine:
                await running.enter_async_context(service.serving_engine(settings, worker=worker))
                serve_in_thread(settings)  # BATCHCOOK_METRICS_PORT: this process's counters
            yield

    app = FastAPI(title="batchcook", lifespan=lifespan, default_response_class=SafeJSONResponse)
    app.state.batchcook = state
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(CountRequests)  # so this process's jobs let its requests go first
    redact_access_log()
    problems.install(app)
    for area in (ops, recipes, webhooks, jobs):
        app.include_router(area.router)

    async def admit_from_form(job: Job) -> str | None:
        """The gallery's form passes the same checks as ``POST /api/recipes``."""
        try:
            await service.admit([job], settings, today=state.date(), cache=state.schema_cache)
        except (service.NotReady, budget.BudgetExceeded) as refused:
            return str(refused)
        return None

    # Last, so the API's routes win wherever a path could match both.
    mount_gallery(app, settings, admit_from_form)
    app.openapi = docs.openapi_for(app)  # type: ignore[method-assign]
    return app
