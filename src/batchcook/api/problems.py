"""How the API answers when it says no: ``{"error": {"message", ...}}`` with a precise status.

Routes raise; the handlers installed here turn the service layer's errors into statuses, in
one place (``service.py`` lists the same table for the CLI's exit codes).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from batchcook import service
from batchcook.api.limits import BodyTooLarge
from batchcook.budget import BudgetExceeded
from batchcook.inputs import InputError


class HTTPProblem(Exception):
    """An answer other than success, raised from a route (an HTTP response, not an error of
    ours: see ``batchcook/errors.py``)."""

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


def problem(status: int, message: str, **extra: Any) -> JSONResponse:
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


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object; any other content type is refused before it is read."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise HTTPProblem(
            415, f"the body is {kind}: send JSON with 'Content-Type: application/json'"
        )
    return parse_json_object(await request.body())


def _answer(exc: Exception) -> JSONResponse:
    """The one table from our errors to statuses."""
    match exc:
        case HTTPProblem():
            return problem(exc.status, exc.message, **exc.extra)
        case InputError():
            return problem(422, exc.message, **({"field": exc.field} if exc.field else {}))
        case BodyTooLarge():
            return problem(413, str(exc))
        case service.NotReady():
            checks = [p.public() for p in exc.problems]
            return problem(503 if exc.outage else 422, str(exc), checks=checks)
        case BudgetExceeded():
            return problem(429, str(exc), code=exc.code)
        case service.NoSuchJob():
            return problem(404, str(exc))
        case service.NotRetryable() | service.AlreadyEnded():
            return problem(409, str(exc))
        case service.BadEvent():
            return problem(400, str(exc))
        case service.NeedsNotion():
            return problem(501, str(exc))
    raise exc  # not ours to answer: a bug, FastAPI's 500


ANSWERED = (
    HTTPProblem,
    InputError,
    BodyTooLarge,
    service.NotReady,
    BudgetExceeded,
    service.NoSuchJob,
    service.NotRetryable,
    service.AlreadyEnded,
    service.BadEvent,
    service.NeedsNotion,
)


def install(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return _answer(exc)

    for kind in ANSWERED:
        app.add_exception_handler(kind, handler)
