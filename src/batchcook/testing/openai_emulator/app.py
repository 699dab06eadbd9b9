"""The HTTP face of the OpenAI emulator (Starlette), plus ``/_emulator`` control routes.

Routes answer exactly the paths the real API serves; anything else is the real API's 404
``Invalid URL (METHOD /path)``, which is how ``/v1/responses/parse`` fails in production.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from batchcook.testing.openai_emulator.errors import APIError, bad_request, overloaded, rate_limited
from batchcook.testing.openai_emulator.errors import server_error as internal_error
from batchcook.testing.openai_emulator.faults import BatchPlan, HTTPFault
from batchcook.testing.openai_emulator.state import EmulatorState
from batchcook.testing.openai_emulator.validation import check_schema

CHUNK = 64 * 1024
Endpoint = Callable[[Request], Awaitable[Response]]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


def _error(err: APIError) -> JSONResponse:
    return _json(err.body(), err.status, err.headers)


def _mask(key: str) -> str:
    return key[:3] + "*" * 6 + key[-4:] if len(key) > 8 else "*" * len(key)


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON.)"
        ) from None


def build_app(state: EmulatorState, api_keys: set[str] | None = None) -> Starlette:
    """``api_keys``: the keys accepted (``None`` = any non-empty key)."""

    def guarded(handler: Endpoint) -> Endpoint:
        async def wrapper(request: Request) -> Response:
            state.calls[request.url.path] = state.calls.get(request.url.path, 0) + 1
            request_id = f"req_{uuid.uuid4().hex}"
            auth = request.headers.get("authorization", "")
            key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            if not key:
                return _error(
                    APIError(
                        401,
                        "You didn't provide an API key. You need to provide your API key in an "
                        "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                        "YOUR_KEY), or as the password field (with blank username) if you're "
                        "accessing the API from your browser and are prompted for a username "
                        "and password. You can obtain an API key from "
                        "https://platform.openai.com/account/api-keys.",
                    )
                )
            if api_keys is not None and key not in api_keys:
                return _error(
                    APIError(
                        401,
                        f"Incorrect API key provided: {_mask(key)}. You can find your API key "
                        "at https://platform.openai.com/account/api-keys.",
                        code="invalid_api_key",
                    )
                )
            body = await request.body() if request.method == "POST" else b""
            fault = state.faults.take_http(request.method, request.url.path, body)
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.seconds)
            elif fault is not None and fault.kind == "error":
                err = {429: rate_limited(fault.retry_after), 503: overloaded()}.get(
                    fault.status, internal_error()
                )
                err.status = fault.status
                return _error(err)
            try:
                if fault is not None and fault.kind == "truncate":
                    request.state.truncate = True
                response = await handler(request)
            except APIError as err:
                response = _error(err)
            response.headers["x-request-id"] = request_id
            return response

        return wrapper

    async def create_file(request: Request) -> Response:
        form = await request.form(max_part_size=1024 * 1024)
        upload = form.get("file")
        purpose = form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise bad_request(
                "Missing required parameter: 'file'.",
                param="file",
                code="missing_required_parameter",
            )
        if not isinstance(purpose, str):
            raise bad_request(
                "Missing required parameter: 'purpose'.",
                param="purpose",
                code="missing_required_parameter",
            )
        expires: dict[str, Any] | None = None
        if "expires_after[seconds]" in form:
            expires = {
                "anchor": form.get("expires_after[anchor]"),
                "seconds": int(str(form.get("expires_after[seconds]"))),
            }
        check_schema(
            "CreateFileRequest",
            {
                "file": "<binary>",
                "purpose": purpose,
                **({"expires_after": expires} if expires else {}),
            },
        )
        data = await upload.read()
        stored = state.add_file(
            upload.filename or "upload",
            purpose,
            data,
            None if expires is None else expires["seconds"],
        )
        return _json(stored.to_json())

    async def list_files(request: Request) -> Response:
        purpose = request.query_params.get("purpose")
        with state.lock:
            files = [f.to_json() for f in state.files.values() if purpose in (None, f.purpose)]
        files.sort(key=lambda f: f["created_at"], reverse=True)
        return _json(
            {
                "object": "list",
                "data": files,
                "has_more": False,
                "first_id": files[0]["id"] if files else None,
                "last_id": files[-1]["id"] if files else None,
            }
        )

    async def get_file(request: Request) -> Response:
        return _json(state.get_file(request.path_params["file_id"]).to_json())

    async def delete_file(request: Request) -> Response:
        file_id = request.path_params["file_id"]
        state.delete_file(file_id)
        return _json({"id": file_id, "object": "file", "deleted": True})

    async def file_content(request: Request) -> Response:
        data = state.get_file(request.path_params["file_id"]).data
        truncate = getattr(request.state, "truncate", False)

        async def chunks() -> AsyncIterator[bytes]:
            end = len(data) // 2 if truncate else len(data)
            for start in range(0, end, CHUNK):
                yield data[start : min(start + CHUNK, end)]
            if truncate:
                # The connection drops mid-body, as in openai-python#2959.
                raise ConnectionResetError("emulated truncated download")

        return StreamingResponse(
            chunks(),
            media_type="application/octet-stream",
            headers={"content-length": str(len(data))},
        )

    async def create_batch(request: Request) -> Response:
        return _json(state.create_batch(await _body(request)).to_json())

    async def list_batches(request: Request) -> Response:
        raw_limit = request.query_params.get("limit", "20")
        try:
            limit = int(raw_limit)
        except ValueError:
            raise bad_request(
                "Invalid type for 'limit': expected an integer, but got a string instead.",
                param="limit",
                code="invalid_type",
            ) from None
        if limit < 1 or limit > 100:
            which = "below minimum" if limit < 1 else "above maximum"
            bound = ">= 1" if limit < 1 else "<= 100"
            raise bad_request(
                f"Invalid 'limit': integer {which} value. Expected a value {bound}, "
                f"but got {limit} instead.",
                param="limit",
                code="integer_below_min_value" if limit < 1 else "integer_above_max_value",
            )
        page, has_more = state.list_batches(request.query_params.get("after"), limit)
        data = [b.to_json() for b in page]
        return _json(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": has_more,
            }
        )

    async def get_batch(request: Request) -> Response:
        return _json(state.get_batch(request.path_params["batch_id"]).to_json())

    async def cancel_batch(request: Request) -> Response:
        return _json(state.cancel_batch(request.path_params["batch_id"]).to_json())

    async def list_models(request: Request) -> Response:
        # ListModelsResponse: the models served today (a shut-down model is gone from the
        # real list); ``created`` is not in the catalog, so it is the epoch.
        today = state.today()
        data = [
            {"id": m.name, "object": "model", "created": 0, "owned_by": "system"}
            for m in state.catalog.models.values()
            if not m.retired(today)
        ]
        return _json({"object": "list", "data": data})

    async def responses(request: Request) -> Response:
        body = await _body(request)
        return _json(await asyncio.to_thread(state.run_request, "/v1/responses", body))

    async def images(request: Request) -> Response:
        body = await _body(request)
        return _json(await asyncio.to_thread(state.run_request, "/v1/images/generations", body))

    # --- control routes for a separately running emulator (`batchcook emulate openai`) ---

    async def control_clock(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            advance = getattr(state.clock, "advance", None)
            if advance is None:
                raise bad_request(
                    "This emulator runs on the system clock; start it with --manual-clock."
                )
            advance(float(body.get("seconds", 0)))
        return _json({"now": state.clock.now()})

    async def control_faults(request: Request) -> Response:
        body = await _body(request)
        for fault in body.get("http", []):
            state.faults.http(HTTPFault(**fault))
        for plan in body.get("batches", []):
            endpoint = plan.pop("endpoint", None)
            state.faults.next_batch(BatchPlan.from_json(plan), endpoint)
        if "default_batch" in body:
            state.faults.default_batch = BatchPlan.from_json(body["default_batch"])
        return _json({"ok": True})

    async def control_calls(request: Request) -> Response:
        return _json(state.calls)

    async def not_found_route(request: Request) -> Response:
        return _json(
            APIError(404, f"Invalid URL ({request.method} {request.url.path})").body(), 404
        )

    def route(path: str, handler: Endpoint, methods: list[str]) -> Route:
        return Route(path, guarded(handler), methods=methods)

    routes = [
        route("/v1/files", create_file, ["POST"]),
        route("/v1/files", list_files, ["GET"]),
        route("/v1/files/{file_id}", get_file, ["GET"]),
        route("/v1/files/{file_id}", delete_file, ["DELETE"]),
        route("/v1/files/{file_id}/content", file_content, ["GET"]),
        route("/v1/batches", create_batch, ["POST"]),
        route("/v1/batches", list_batches, ["GET"]),
        route("/v1/batches/{batch_id}", get_batch, ["GET"]),
        route("/v1/batches/{batch_id}/cancel", cancel_batch, ["POST"]),
        route("/v1/models", list_models, ["GET"]),
        route("/v1/responses", responses, ["POST"]),
        route("/v1/images/generations", images, ["POST"]),
        Route("/_emulator/clock", control_clock, methods=["GET", "POST"]),
        Route("/_emulator/faults", control_faults, methods=["POST"]),
        Route("/_emulator/calls", control_calls, methods=["GET"]),
    ]

    async def on_404(request: Request, exc: Exception) -> Response:
        return await not_found_route(request)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIError)
        return _error(exc)

    return Starlette(
        routes=routes,
        exception_handlers={404: on_404, 405: on_404, APIError: on_api_error},
    )


__all__ = ["build_app", "math"]
