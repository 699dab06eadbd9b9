"""The HTTP API (FastAPI), compatible with the existing app's routes.

Routes validate and authenticate, then start or read a durable job and answer at once; all
work happens in the workflows. Errors are JSON ``{"error": {"message", ...}}`` with a
precise status, and nothing reaches OpenAI unless the request is valid.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import openai
from dbos import DBOS
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from batchcook import budget, instrument
from batchcook.api import docs, webhook
from batchcook.api.limits import BodyLimit, BodyTooLarge
from batchcook.api.metrics_server import serve_in_thread
from batchcook.api.redact import redact_access_log
from batchcook.config import Settings
from batchcook.doctor import SchemaCache, preflight, run_doctor
from batchcook.generation.batch.facts import JOB_METADATA
from batchcook.inputs import InputError, build_bulk, build_job
from batchcook.jobs import JOB_STATUSES, TERMINAL_STATUSES, Job, new_job_id
from batchcook.stores.base import TakesComments
from batchcook.stores.notion.errors import NotionAPIError
from batchcook.web import mount_gallery
from batchcook.workflows import engine, job_metrics, marks
from batchcook.workflows.orphans import adopt_orphans
from batchcook.workflows.recipes import WAKE_TOPIC
from batchcook.workflows.runtime import runtime

log = logging.getLogger(__name__)


class HTTPProblem(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


class SafeJSONResponse(JSONResponse):
    """JSON that a stored string cannot break: text that is not valid Unicode (a lone
    surrogate in an old record) is replaced, not a 500 for every later listing."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", errors="replace")


def _problem(status: int, message: str, **extra: Any) -> JSONResponse:
    return SafeJSONResponse({"error": {"message": message, **extra}}, status_code=status)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(raw: bytes, what: str = "the request body") -> dict[str, Any]:
    """Strict JSON (no NaN/Infinity, which Python would otherwise accept) holding an object."""
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        raise HTTPProblem(400, f"{what} is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPProblem(400, f"{what} must be a JSON object")
    return body


#: Seconds a successful check of a recipes database's properties is trusted by the create
#: preflight: a burst of requests costs Notion two reads per minute, not two per job.
SCHEMA_CHECK_TTL = 60.0


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
    schema_cache = SchemaCache(SCHEMA_CHECK_TTL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if doctor:
            for check in await run_doctor(settings, today() if today else None):
                if not check.ok:  # starting anyway: a fix may not need a restart
                    log.warning("doctor: %s: %s", check.check, check.detail)
        if manage_engine:
            await engine.launch_async(settings, worker=worker)
            serve_in_thread(settings)  # BATCHCOOK_METRICS_PORT: this process's counters
            if worker:
                await adopt_orphans()  # jobs of CLI runs on this host that died mid-job
        yield
        if manage_engine:
            engine.shutdown()

    app = FastAPI(title="batchcook", lifespan=lifespan, default_response_class=SafeJSONResponse)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    redact_access_log()
    verifier = openai.AsyncOpenAI(api_key="unused-for-webhook-verification")

    @app.exception_handler(HTTPProblem)
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPProblem)
        return _problem(exc.status, exc.message, **exc.extra)

    @app.exception_handler(InputError)
    async def on_input_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InputError)
        extra = {"field": exc.field} if exc.field else {}
        return _problem(422, exc.message, **extra)

    @app.exception_handler(BodyTooLarge)
    async def on_too_large(request: Request, exc: Exception) -> JSONResponse:
        return _problem(413, str(exc))

    def authorize(request: Request, *, allow_query_key: bool = False) -> None:
        if settings.api_key is None:
            return
        expected = settings.api_key.get_secret_value()
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else ""
        if not given and allow_query_key:
            given = request.query_params.get("key", "")
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPProblem(
                401, "missing or wrong API key: send 'Authorization: Bearer <BATCHCOOK_API_KEY>'"
            )

    async def json_body(request: Request) -> dict[str, Any]:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind and kind != "application/json" and not kind.endswith("+json"):
            raise HTTPProblem(
                415, f"the body is {kind}: send JSON with 'Content-Type: application/json'"
            )
        return parse_json_object(await request.body())

    def accepted(request: Request, job_id: str, message: str) -> JSONResponse:
        url = str(request.url_for("get_job", job_id=job_id))
        return SafeJSONResponse(
            {"message": message, "job_id": job_id, "status_url": url}, status_code=202
        )

    def dry_run(request: Request) -> bool:
        return request.query_params.get("dry_run", "").lower() in ("1", "true", "yes")

    async def admit_or_estimate(request: Request, jobs: list[Job]) -> JSONResponse | None:
        """The dry-run answer, or None once the jobs passed the preflight (what would fail
        after paying) and are admitted under the budget caps."""
        if dry_run(request):
            estimates = [budget.estimate_job(job, settings) for job in jobs]
            return SafeJSONResponse(
                {
                    "message": "dry run: nothing was sent",
                    "usd_at_most": round(sum(e.usd for e in estimates), 6),
                    "estimates": [e.public() for e in estimates],
                }
            )
        checked: set[tuple[str, str | None]] = set()
        for job in jobs:  # one check per mode and database, not per prompt of a bulk request
            if (job.mode, job.database_id) not in checked:
                await refuse_unless_ready(job)
                checked.add((job.mode, job.database_id))
        try:
            await asyncio.to_thread(budget.admit, jobs, settings)
        except budget.BudgetExceeded as refused:
            raise HTTPProblem(429, str(refused), code=refused.code) from None
        return None

    async def start_jobs(
        request: Request, jobs: list[Job], message: str, *, listed: bool = False
    ) -> JSONResponse:
        """What every route that starts jobs does: the dry-run estimate, or the preflight and
        admission, then every job started and 202. ``listed`` answers with the list of jobs
        (the bulk route, whatever its length), else with the one job's id."""
        answer = await admit_or_estimate(request, jobs)
        if answer is not None:
            return answer
        for job in jobs:
            await engine.start_job(job)
        if not listed:
            [job] = jobs
            return accepted(request, job.id, message)
        return SafeJSONResponse(
            {
                "message": message,
                "jobs": [
                    {"job_id": j.id, "status_url": str(request.url_for("get_job", job_id=j.id))}
                    for j in jobs
                ],
            },
            status_code=202,
        )

    async def start_create(request: Request, fields: dict[str, Any]) -> JSONResponse:
        job = build_job(
            "create",
            fields.get("prompt"),
            settings,
            mode=fields.get("mode"),
            database_id=fields.get("db"),
            request_id=fields.get("request_id"),
        )
        return await start_jobs(request, [job], "Recipe creation in progress")

    @app.post("/api/recipes/bulk", status_code=202, responses=docs.ERRORS)
    async def create_bulk(request: Request) -> JSONResponse:
        """Many recipes in one request: one job per prompt, all validated first."""
        authorize(request)
        body = await json_body(request)
        jobs = build_bulk(
            body.get("prompts"),
            settings,
            mode=body.get("mode"),
            database_id=body.get("db"),
            request_id=body.get("request_id"),
        )
        return await start_jobs(
            request, jobs, f"{len(jobs)} recipe creations in progress", listed=True
        )

    async def refuse_unless_ready(job: Job) -> None:
        """Refuse, before anything is uploaded or paid for, a job that would fail after
        paying (the doctor's checks)."""
        problems = await preflight(
            settings,
            mode=job.mode,
            database_id=job.database_id,
            today=today() if today else None,
            cache=schema_cache,
        )
        if problems:
            raise HTTPProblem(
                503 if any(p.outage for p in problems) else 422,
                "; ".join(f"{p.check}: {p.detail}" for p in problems),
                checks=[p.public() for p in problems],
            )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics_route(request: Request) -> Response:
        authorize(request, allow_query_key=True)  # Prometheus can send a bearer token
        body = await job_metrics.exposition(settings.catalog_path)
        return Response(body, media_type=instrument.CONTENT_TYPE)

    @app.get("/api/recipes", status_code=202, response_model=docs.Accepted, responses=docs.ERRORS)
    @app.get("/recipes", include_in_schema=False)
    async def create_by_get(request: Request) -> JSONResponse:
        """For phone shortcuts: everything in the query string, ``?key=`` allowed."""
        authorize(request, allow_query_key=True)
        return await start_create(request, dict(request.query_params))

    @app.post("/api/recipes", status_code=202, response_model=docs.Accepted, responses=docs.ERRORS)
    @app.post("/recipes", include_in_schema=False)
    async def create_by_post(request: Request) -> JSONResponse:
        authorize(request)
        return await start_create(request, await json_body(request))

    @app.post(
        "/api/jobs/modify", status_code=202, response_model=docs.Accepted, responses=docs.ERRORS
    )
    async def modify_by_api(request: Request) -> JSONResponse:
        authorize(request)
        body = await json_body(request)
        job = build_job(
            "modify",
            body.get("request"),
            settings,
            mode=body.get("mode"),
            request_id=body.get("request_id"),
            page_id=body.get("page_id"),
        )
        return await start_jobs(request, [job], "Recipe modification in progress")

    @app.post("/api/recipes/modify")
    @app.post("/recipes/modify", include_in_schema=False)
    async def notion_webhook(request: Request) -> JSONResponse:
        # The signature is checked on the raw bytes before anything is parsed: an unsigned
        # body is read only as far as a bounded, one-time handshake.
        raw = await request.body()
        signature = request.headers.get("x-notion-signature")
        if signature is None:
            try:
                offered = webhook.check_handshake(settings, raw)
                webhook.save_verification_token(settings, offered)
            except webhook.HandshakeRefused as refused:
                raise HTTPProblem(refused.status, refused.message) from None
            return SafeJSONResponse(
                {"message": "verification token received; finish setup in Notion"}
            )
        token = webhook.verification_token(settings)
        if token is None:
            raise HTTPProblem(
                401,
                "no webhook verification token yet: re-send the verification request from "
                "Notion or set NOTION_VERIFICATION_TOKEN",
            )
        if not webhook.signature_valid(token, raw, signature):
            raise HTTPProblem(401, "bad or missing X-Notion-Signature")
        return await handle_event(request, parse_json_object(raw, "the webhook body"))

    async def handle_event(request: Request, event: dict[str, Any]) -> JSONResponse:
        # Answer 200 to everything we deliberately ignore: Notion retries non-2xx answers.
        kind = event.get("type")
        if kind != "comment.created":
            return SafeJSONResponse({"message": f"ignored: event type {kind!r}"})
        if any((a or {}).get("type") == "bot" for a in event.get("authors") or []):
            return SafeJSONResponse({"message": "ignored: comment written by an integration"})
        entity = event.get("entity")
        comment_id = entity.get("id") if isinstance(entity, dict) else None
        if not isinstance(event.get("id"), str) or not isinstance(comment_id, str):
            raise HTTPProblem(400, "malformed comment.created event: no id or entity.id")
        stale = webhook.event_too_old(event.get("timestamp"), time.time(), settings.webhook_max_age)
        if stale is not None:
            log.warning("Notion event %s ignored: %s", event["id"][:64], stale)
            return SafeJSONResponse({"message": f"ignored: {stale}"})
        store = runtime().store(None)
        try:
            if not isinstance(store, TakesComments):
                raise HTTPProblem(501, "the #modify webhook needs the Notion store (NOTION_TOKEN)")
            try:
                page_id, text, author = await store.read_comment(comment_id)
            except NotionAPIError as error:
                if error.code not in ("object_not_found", "validation_error"):
                    raise
                # Answer 200: Notion retries anything else, and retrying will not help.
                return SafeJSONResponse({"message": "ignored: no such comment (or not shared)"})
            if author == await store.integration_id():
                return SafeJSONResponse({"message": "ignored: our own comment"})
            change = webhook.modify_request(text)
            if change is None:
                return SafeJSONResponse({"message": "ignored: comment does not start with #modify"})
            if not await store.is_recipe_page(page_id):
                return SafeJSONResponse({"message": "ignored: page is not in the recipes database"})
        finally:
            await store.aclose()
        if len(change) > settings.max_prompt_chars:
            return SafeJSONResponse({"message": "ignored: the requested change is too long"})
        # One job per comment, whatever the event id: a replayed or re-sent event for the
        # same comment finds the job already started and starts nothing new.
        job = Job(
            id=new_job_id("modify", comment_id), kind="modify", prompt=change, page_id=page_id
        )
        try:
            await asyncio.to_thread(budget.admit, [job], settings)
        except budget.BudgetExceeded as refused:
            log.warning("#modify on page %s refused: %s", page_id, refused)
            return SafeJSONResponse({"message": f"ignored: {refused}"})  # Notion retries 4xx
        await engine.start_job(job)
        return accepted(request, job.id, "Recipe modification in progress")

    @app.post("/api/openai/webhook")
    async def openai_webhook(request: Request) -> JSONResponse:
        """Wakes the round following a batch that just ended; polling stays the safety net."""
        if settings.openai_webhook_secret is None:
            raise HTTPProblem(404, "OpenAI webhooks are off: set OPENAI_WEBHOOK_SECRET")
        raw = await request.body()
        try:
            event = verifier.webhooks.unwrap(
                raw, dict(request.headers), secret=settings.openai_webhook_secret.get_secret_value()
            )
        except (openai.InvalidWebhookSignatureError, ValueError) as err:
            raise HTTPProblem(401, f"bad OpenAI webhook signature: {err}") from None
        if not event.type.startswith("batch."):
            return SafeJSONResponse({"message": f"ignored: event type {event.type!r}"})
        batch_id = str(getattr(event.data, "id", ""))
        delivery = request.headers.get("webhook-id", "")[:200]
        if delivery and not await marks.claim_async(
            settings.database(), f"openai-webhook:{delivery}"
        ):
            return SafeJSONResponse(
                {"message": f"ignored: delivery {delivery} was already handled"}
            )
        try:
            async with runtime().openai() as client:
                batch = await client.batches.retrieve(batch_id)
        except openai.NotFoundError:
            return SafeJSONResponse(
                {"message": f"ignored: batch {batch_id} is not in this project"}
            )
        job_id = (batch.metadata or {}).get(JOB_METADATA)
        if not job_id or await DBOS.get_workflow_status_async(job_id) is None:
            return SafeJSONResponse(
                {"message": f"ignored: batch {batch_id} is not one of our jobs'"}
            )
        await DBOS.send_async(job_id, {"batch": batch_id}, topic=WAKE_TOPIC)
        return SafeJSONResponse({"message": f"woke job {job_id}"})

    @app.get("/api/jobs/{job_id}", name="get_job")
    async def get_job(request: Request, job_id: str) -> JSONResponse:
        authorize(request, allow_query_key=True)
        job = await engine.get_job(job_id)
        if job is None:
            raise HTTPProblem(404, f"no job {job_id!r}")
        return SafeJSONResponse(job.public())

    @app.post(
        "/api/jobs/{job_id}/retry",
        status_code=202,
        response_model=docs.Accepted,
        responses=docs.ERRORS,
    )
    async def retry_job(request: Request, job_id: str) -> JSONResponse:
        """A new attempt of a failed job, reusing every result it paid for."""
        authorize(request)
        old = await engine.get_job(job_id)
        if old is None:
            raise HTTPProblem(404, f"no job {job_id!r}")
        try:
            job = engine.new_attempt(old)
        except engine.NotRetryable as error:
            raise HTTPProblem(409, str(error)) from None
        # The estimate and the admission are at most what it costs anew.
        return await start_jobs(request, [job], f"Retry of {job_id} in progress")

    @app.post("/api/jobs/{job_id}/cancel")
    async def cancel_job(request: Request, job_id: str) -> JSONResponse:
        """Stop a running job and its unfinished batches (their finished lines stay billed)."""
        authorize(request)
        before = await engine.get_job(job_id)
        if before is None:
            raise HTTPProblem(404, f"no job {job_id!r}")
        if before.status in TERMINAL_STATUSES:
            raise HTTPProblem(
                409, f"job {job_id} already ended ({before.status}): nothing to cancel"
            )
        job = await engine.cancel_job(job_id)
        assert job is not None
        return SafeJSONResponse(job.public())

    @app.get("/api/jobs")
    async def list_jobs(
        request: Request, status: str | None = None, limit: int = 50
    ) -> JSONResponse:
        authorize(request)
        if status is not None and status not in JOB_STATUSES:
            raise HTTPProblem(
                422,
                f"unknown status {status!r}: use one of {', '.join(JOB_STATUSES)}",
                field="status",
            )
        jobs = await engine.list_jobs(status=status, limit=max(1, min(limit, 200)))
        return SafeJSONResponse({"jobs": [j.public() for j in jobs]})

    # Last, so the API's routes win wherever a path could match both.
    async def admit_from_form(job: Job) -> str | None:
        """The gallery's form passes the same checks as ``POST /api/recipes``."""
        try:
            await refuse_unless_ready(job)
            await asyncio.to_thread(budget.admit, [job], settings)
        except HTTPProblem as problem:
            return problem.message
        except budget.BudgetExceeded as refused:
            return str(refused)
        return None

    mount_gallery(app, settings, admit_from_form)
    app.openapi = docs.openapi_for(app)  # type: ignore[method-assign]
    return app
