"""The HTTP API (FastAPI), compatible with the existing app's routes.

Routes validate and authenticate, then start or read a durable job and answer at once; all
work happens in the workflows. Errors are JSON ``{"error": {"message", ...}}`` with a
precise status, and nothing reaches OpenAI unless the request is valid.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, get_args

import openai
from dbos import DBOS
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from batchcook import metrics
from batchcook.api import webhook
from batchcook.config import Mode, Settings
from batchcook.jobs import Job, new_job_id
from batchcook.workflows import engine
from batchcook.workflows.orphans import adopt_orphans
from batchcook.workflows.recipes import WAKE_TOPIC
from batchcook.workflows.runtime import runtime
from batchcook.workflows.steps import JOB_METADATA

log = logging.getLogger(__name__)
MODES = get_args(Mode)


class HTTPProblem(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def _problem(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"message": message, **extra}}, status_code=status)


def create_app(settings: Settings, *, worker: bool = True, manage_engine: bool = True) -> FastAPI:
    """``manage_engine=False`` when DBOS is already running in this process (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_engine:
            await engine.launch_async(settings, worker=worker)
            if worker:
                await adopt_orphans()  # jobs of CLI runs on this host that died mid-job
        yield
        if manage_engine:
            engine.shutdown()

    app = FastAPI(title="batchcook", lifespan=lifespan)
    verifier = openai.AsyncOpenAI(api_key="unused-for-webhook-verification")

    @app.exception_handler(HTTPProblem)
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPProblem)
        return _problem(exc.status, exc.message, **exc.extra)

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

    def check_prompt(prompt: Any, field: str = "prompt") -> str:
        if not isinstance(prompt, str) or not prompt.strip():
            raise HTTPProblem(422, f"'{field}' is missing or empty: say what to cook", field=field)
        if len(prompt) > settings.max_prompt_chars:
            raise HTTPProblem(
                422,
                f"'{field}' is {len(prompt):,} characters; the limit is "
                f"{settings.max_prompt_chars:,} (BATCHCOOK_MAX_PROMPT_CHARS)",
                field=field,
            )
        return prompt.strip()

    def check_mode(mode: Any) -> Mode:
        if mode is None:
            return settings.mode
        if mode not in MODES:
            raise HTTPProblem(
                422, f"unknown mode {mode!r}: use one of {', '.join(MODES)}", field="mode"
            )
        return mode

    async def json_body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            raise HTTPProblem(400, "the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HTTPProblem(400, "the request body must be a JSON object")
        return body

    def accepted(request: Request, job_id: str, message: str) -> JSONResponse:
        url = str(request.url_for("get_job", job_id=job_id))
        return JSONResponse(
            {"message": message, "job_id": job_id, "status_url": url}, status_code=202
        )

    async def start_create(request: Request, fields: dict[str, Any]) -> JSONResponse:
        prompt = check_prompt(fields.get("prompt"))
        mode = check_mode(fields.get("mode"))
        request_id = fields.get("request_id")
        if request_id is not None and not isinstance(request_id, str):
            raise HTTPProblem(422, "'request_id' must be a string", field="request_id")
        job = Job(
            id=new_job_id("create", request_id),
            kind="create",
            prompt=prompt,
            mode=mode,
            database_id=fields.get("db") or settings.notion_recipes_database_id,
        )
        await engine.start_job(job)
        return accepted(request, job.id, "Recipe creation in progress")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics_route(request: Request) -> Response:
        authorize(request, allow_query_key=True)  # Prometheus can send a bearer token
        body = await metrics.exposition(settings.catalog_path)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    @app.get("/api/recipes")
    @app.get("/recipes", include_in_schema=False)
    async def create_by_get(request: Request) -> JSONResponse:
        """For phone shortcuts: everything in the query string, ``?key=`` allowed."""
        authorize(request, allow_query_key=True)
        return await start_create(request, dict(request.query_params))

    @app.post("/api/recipes")
    @app.post("/recipes", include_in_schema=False)
    async def create_by_post(request: Request) -> JSONResponse:
        authorize(request)
        return await start_create(request, await json_body(request))

    @app.post("/api/jobs/modify")
    async def modify_by_api(request: Request) -> JSONResponse:
        authorize(request)
        body = await json_body(request)
        page_id = body.get("page_id")
        if not isinstance(page_id, str) or not page_id.strip():
            raise HTTPProblem(422, "'page_id' is missing: which recipe page?", field="page_id")
        change = check_prompt(body.get("request"), "request")
        job = Job(
            id=new_job_id("modify", body.get("request_id")),
            kind="modify",
            prompt=change,
            mode=check_mode(body.get("mode")),
            page_id=page_id.strip(),
        )
        await engine.start_job(job)
        return accepted(request, job.id, "Recipe modification in progress")

    @app.post("/api/recipes/modify")
    @app.post("/recipes/modify", include_in_schema=False)
    async def notion_webhook(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            event = json.loads(raw)
        except ValueError:
            raise HTTPProblem(400, "the webhook body is not valid JSON") from None
        if not isinstance(event, dict):
            raise HTTPProblem(400, "the webhook body must be a JSON object")
        signature = request.headers.get("x-notion-signature")
        if "verification_token" in event and signature is None:
            webhook.save_verification_token(settings, str(event["verification_token"]))
            return JSONResponse({"message": "verification token received; finish setup in Notion"})
        token = webhook.verification_token(settings)
        if token is None:
            raise HTTPProblem(
                401,
                "no webhook verification token yet: re-send the verification request from "
                "Notion or set NOTION_VERIFICATION_TOKEN",
            )
        if not webhook.signature_valid(token, raw, signature):
            raise HTTPProblem(401, "bad or missing X-Notion-Signature")
        return await handle_event(request, event)

    async def handle_event(request: Request, event: dict[str, Any]) -> JSONResponse:
        # Answer 200 to everything we deliberately ignore: Notion retries non-2xx answers.
        kind = event.get("type")
        if kind != "comment.created":
            return JSONResponse({"message": f"ignored: event type {kind!r}"})
        if any((a or {}).get("type") == "bot" for a in event.get("authors") or []):
            return JSONResponse({"message": "ignored: comment written by an integration"})
        entity = event.get("entity") or {}
        event_id, comment_id = event.get("id"), entity.get("id")
        if not isinstance(event_id, str) or not isinstance(comment_id, str):
            raise HTTPProblem(400, "malformed comment.created event: no id or entity.id")
        store: Any = runtime().store(None)
        try:
            if not hasattr(store, "read_comment"):
                raise HTTPProblem(501, "the #modify webhook needs the Notion store (NOTION_TOKEN)")
            page_id, text, author = await store.read_comment(comment_id)
            if author == await store.integration_id():
                return JSONResponse({"message": "ignored: our own comment"})
            change = webhook.modify_request(text)
            if change is None:
                return JSONResponse({"message": "ignored: comment does not start with #modify"})
            if not await store.is_recipe_page(page_id):
                return JSONResponse({"message": "ignored: page is not in the recipes database"})
        finally:
            close = getattr(store, "aclose", None)
            if close is not None:
                await close()
        if len(change) > settings.max_prompt_chars:
            return JSONResponse({"message": "ignored: the requested change is too long"})
        job = Job(id=new_job_id("modify", event_id), kind="modify", prompt=change, page_id=page_id)
        await engine.start_job(job)
        return accepted(request, job.id, "Recipe modification in progress")

    @app.post("/api/openai/webhook")
    async def openai_webhook(request: Request) -> JSONResponse:
        """Wakes the job owning a batch that just ended; polling stays the safety net."""
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
            return JSONResponse({"message": f"ignored: event type {event.type!r}"})
        batch_id = str(getattr(event.data, "id", ""))
        async with runtime().openai() as client:
            batch = await client.batches.retrieve(batch_id)
        job_id = (batch.metadata or {}).get(JOB_METADATA)
        if not job_id or await engine.get_job(job_id) is None:
            return JSONResponse({"message": f"ignored: batch {batch_id} is not one of our jobs'"})
        await DBOS.send_async(job_id, {"batch": batch_id}, topic=WAKE_TOPIC)
        return JSONResponse({"message": f"woke job {job_id}"})

    @app.get("/api/jobs/{job_id}", name="get_job")
    async def get_job(request: Request, job_id: str) -> JSONResponse:
        authorize(request, allow_query_key=True)
        job = await engine.get_job(job_id)
        if job is None:
            raise HTTPProblem(404, f"no job {job_id!r}")
        return JSONResponse(job.public())

    @app.get("/api/jobs")
    async def list_jobs(
        request: Request, status: str | None = None, limit: int = 50
    ) -> JSONResponse:
        authorize(request)
        jobs = await engine.list_jobs(status=status, limit=max(1, min(limit, 200)))
        return JSONResponse({"jobs": [j.public() for j in jobs]})

    return app
