"""A size limit on every request body, enforced while it is read.

Without it an unauthenticated client could send 100 MB to any route and have it buffered
(and, before the signature check moved first, parsed): a few such requests in parallel take
gigabytes. The limit is ``BATCHCOOK_MAX_BODY_BYTES``; every body batchcook expects is far
smaller (a prompt is at most a few kB, a Notion or OpenAI webhook about 1 kB).
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised while reading a body past the limit; the API answers 413."""


def _message(limit: int) -> str:
    return f"the request body is larger than {limit:,} bytes (BATCHCOOK_MAX_BODY_BYTES)"


class BodyLimit:
    """Refuses a declared Content-Length over the limit before reading anything, and stops
    a chunked body as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _answer(400, "Content-Length is not a number", scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await _answer(413, _message(self.max_bytes), scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(_message(self.max_bytes))
            return message

        await self.app(scope, limited, send)


async def _answer(status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"error": {"message": message}}, status_code=status)
    await response(scope, receive, send)
