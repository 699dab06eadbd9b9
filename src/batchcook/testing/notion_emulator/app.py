"""HTTP for the emulated workspace: routing, ``Notion-Version``, bearer auth, rate limit,
fault plans, and Notion's error bodies. The operations themselves live in ``workspace``."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from batchcook.testing.notion_emulator.errors import NotionError, of_status, validation
from batchcook.testing.notion_emulator.models import Ctx, Json, Recorded
from batchcook.testing.notion_emulator.render import render_html, render_text
from batchcook.testing.notion_emulator.validation import parse_id
from batchcook.testing.notion_emulator.workspace import MAX_PAYLOAD_BYTES

if TYPE_CHECKING:
    from batchcook.testing.notion_emulator.emulator import NotionEmulator


_ID = r"(?P<id>[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^/v1/{pattern}$"), name)
    for method, pattern, name in [
        ("GET", "users/me", "me"),
        ("GET", f"users/{_ID}", "retrieve_user"),
        ("POST", "databases", "create_database"),
        ("GET", f"databases/{_ID}", "retrieve_database"),
        ("GET", f"data_sources/{_ID}", "retrieve_data_source"),
        ("PATCH", f"data_sources/{_ID}", "update_data_source"),
        ("POST", f"data_sources/{_ID}/query", "query_data_source"),
        ("POST", "pages", "create_page"),
        ("GET", f"pages/{_ID}", "retrieve_page"),
        ("PATCH", f"pages/{_ID}", "update_page"),
        ("GET", f"blocks/{_ID}/children", "list_children"),
        ("PATCH", f"blocks/{_ID}/children", "append_children"),
        ("GET", f"blocks/{_ID}", "retrieve_block"),
        ("DELETE", f"blocks/{_ID}", "delete_block"),
        ("POST", "comments", "create_comment"),
        ("GET", "comments", "list_comments"),
        ("GET", f"comments/{_ID}", "retrieve_comment"),
        ("POST", "file_uploads", "create_upload"),
        ("POST", f"file_uploads/{_ID}/send", "send_upload"),
        ("GET", f"file_uploads/{_ID}", "retrieve_upload"),
    ]
]
_WITH_BODY = {"query_data_source", "create_page", "update_page", "append_children"}
_WITH_BODY |= {"create_comment", "create_upload", "create_database", "update_data_source"}
_WITH_QUERY = {"list_children", "list_comments"}


def _route(method: str, path: str) -> tuple[str, str | None]:
    known_path = False
    for route_method, pattern, name in ROUTES:
        match = pattern.match(path)
        if match:
            known_path = True
            if route_method == method:
                return name, match.groupdict().get("id")
    if known_path:
        raise NotionError(400, "invalid_request", f"Unsupported request: {method} {path}.")
    raise NotionError(400, "invalid_request_url", "Invalid request URL.")


class NotionApp:
    """The ASGI app. Holds no state of its own: everything is on the emulator."""

    def __init__(self, emulator: NotionEmulator) -> None:
        self.emulator = emulator

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._respond(request)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        path = request.url.path
        if path.startswith("/_files/"):
            return self._file(request)
        if path.startswith("/_emulator/"):
            return self._view(request)
        request_id = str(uuid.uuid4())
        record = Recorded(request.method, path, None)
        self.emulator.workspace.journal.append(record)
        try:
            body = await self._dispatch(request, record)
            record.status = 200
            return JSONResponse(body)
        except NotionError as error:
            record.status = error.status
            return JSONResponse(error.body(request_id), error.status, headers=error.headers)
        except Exception as error:  # a bug in the emulator: say so, in Notion's shape
            record.status = 500
            bug = NotionError(500, "internal_server_error", f"Emulator bug: {error!r}")
            return JSONResponse(bug.body(request_id), 500)

    async def _dispatch(self, request: Request, record: Recorded) -> Json:
        emulator = self.emulator
        ws = emulator.workspace
        name, object_id = _route(request.method, request.url.path)
        version = request.headers.get("notion-version")
        if version is None:
            raise NotionError(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be "
                "defined, instead was `undefined`.",
            )
        if version not in emulator.versions:
            raise validation(
                "Notion-Version header failed validation: Notion-Version header should be one "
                f"of {sorted(emulator.versions)}, instead was `{version}`."
            )
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {ws.integration.token}":
            raise NotionError(401, "unauthorized", "API token is invalid.")
        retry_after = emulator.rate_limit.check(ws.integration.token)
        if retry_after is not None:
            raise of_status(
                429,
                headers={"Retry-After": str(retry_after)},
                additional_data={"rate_limit_reason": "public_api_request_rate_limit"},
            )
        fault = emulator.faults.take(request.method, request.url.path)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status and not fault.after_commit:
            raise _fault_error(fault.status, fault.retry_after)
        args = await self._arguments(name, request, object_id, record)
        with ws.lock:
            result: Json = getattr(ws, name)(*args)
        if fault is not None and fault.status and fault.after_commit:
            raise _fault_error(fault.status, fault.retry_after)
        return result

    async def _arguments(
        self, name: str, request: Request, object_id: str | None, record: Recorded
    ) -> list[Any]:
        ws = self.emulator.workspace
        ctx = Ctx(ws.integration, str(request.base_url).rstrip("/"))
        args: list[Any] = [ctx]
        if object_id is not None:
            args.append(parse_id(object_id, "path.id"))
        if name == "send_upload":
            args.extend(await _multipart(request))
            record.body = {"file": f"<{len(args[-1])} bytes>"}
        elif name in _WITH_BODY:
            raw = await request.body()
            if len(raw) > MAX_PAYLOAD_BYTES:
                raise NotionError(
                    413,
                    "validation_error",
                    f"Request body too large: {len(raw)} bytes, the limit is "
                    f"{MAX_PAYLOAD_BYTES} bytes.",
                )
            try:
                body = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                raise NotionError(400, "invalid_json", "Error parsing JSON body.") from None
            if not isinstance(body, dict):
                raise NotionError(400, "invalid_json", "Error parsing JSON body.")
            record.body = body
            args.append(body)
        elif name in _WITH_QUERY:
            args.append(dict(request.query_params))
        return args

    def _file(self, request: Request) -> Response:
        """Notion-hosted file URLs are signed and expire after an hour; no auth needed."""
        parts = request.url.path.split("/")
        ws = self.emulator.workspace
        upload = ws.uploads.get(parts[2]) if len(parts) > 3 else None
        expires = float(request.query_params.get("expires", "0"))
        if upload is None or upload.content is None:
            return PlainTextResponse("Not found", 404)
        if ws.clock.now() > expires:
            return PlainTextResponse("Request has expired", 403)
        return Response(upload.content, media_type=upload.content_type)

    def _view(self, request: Request) -> Response:
        """``/_emulator/`` lists pages; ``/_emulator/pages/{id}`` shows one as text, or as
        HTML with ``?format=html``. For humans running ``batchcook emulate notion``."""
        ws = self.emulator.workspace
        base = str(request.base_url).rstrip("/")
        parts = [p for p in request.url.path.split("/") if p]
        with ws.lock:
            if len(parts) == 3 and parts[1] == "pages" and parts[2] in ws.pages:
                if request.query_params.get("format") == "html":
                    return HTMLResponse(render_html(ws, parts[2], base))
                return PlainTextResponse(render_text(ws, parts[2]))
            lines = [f"database {ws.recipes_database_id} (data source {ws.recipes_data_source_id})"]
            for page in ws.pages.values():
                lines.append(f"{base}/_emulator/pages/{page.id}")
        return PlainTextResponse("\n".join(lines) + "\n")


def _fault_error(status: int, retry_after: int | None) -> NotionError:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return of_status(status, headers=headers)


async def _multipart(request: Request) -> tuple[str | None, str | None, bytes]:
    """The ``file`` part of a send request. Anything but multipart (notion-client sends
    ``application/x-www-form-urlencoded`` when given raw bytes) is refused like Notion."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise validation(
            "body failed validation: the request must be multipart/form-data with the file "
            f"in a part named `file`, instead Content-Type was `{content_type or 'undefined'}`."
        )
    form = await request.form()
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise validation(
            "body failed validation: body.file should be defined, instead was `undefined`."
        )
    data = await part.read()
    part_type = part.headers.get("content-type")
    return part.filename, part_type, data
