"""The API answers first: in a process that serves the API and runs jobs (``batchcook
serve``), a job waits to start while requests are being answered.

Why: both share one interpreter (one core's worth of Python). A burst of 2,000 requests
used to start 2,000 jobs while it was still arriving, and each job's first steps (a dozen
database writes) cost more than answering its request, so the API slowed to a third of a
bare app's speed. Accepted jobs are already durable; starting them a few seconds later
costs nothing, and their parts still meet in one collector round (it gathers for up to
``BATCHCOOK_BATCH_WINDOW_MAX``). The wait is bounded (``BATCHCOOK_API_PRIORITY_SECONDS``),
so under endless load jobs still start, that much later.

"Busy" is two or more requests in flight, or that within the last ``QUIET`` seconds: one
client polling a job one request at a time never holds anything up. Only the process's own
requests count: a worker process of its own (``batchcook worker``) never waits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import suppress

from starlette.types import ASGIApp, Receive, Scope, Send

from batchcook.single_flight import SingleFlight

BUSY = 2  # requests in flight that make the API busy
QUIET = 0.1  # seconds below that before jobs start

_in_flight = 0
_busy_until = 0.0  # monotonic time until which the API counts as busy
_counting = threading.Lock()  # one loop writes in `serve`; tests serve apps in several threads
_quiet: SingleFlight[None] = SingleFlight()  # one timer for every held job of a loop


def in_flight() -> int:
    """Requests this process is answering now."""
    return _in_flight


def busy() -> bool:
    return _in_flight >= BUSY or time.monotonic() < _busy_until


def _note(change: int) -> None:
    """Read without the lock from the jobs' loop: a stale read starts or holds one job a
    moment early or late, nothing worse; a lost update would hold every later job."""
    global _in_flight, _busy_until
    with _counting:
        if _in_flight + max(change, 0) >= BUSY:
            _busy_until = time.monotonic() + QUIET
        _in_flight += change


class CountRequests:
    """ASGI middleware: counts the requests this process is answering."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        _note(+1)
        try:
            await self.app(scope, receive, send)
        finally:
            _note(-1)


async def _until_quiet() -> None:
    while busy():
        await asyncio.sleep(QUIET)


async def wait_while_busy(limit: float) -> None:
    """Wait until the API is not busy, at most ``limit`` seconds. All waiters of an event
    loop share one timer: a thousand held jobs wake once per ``QUIET``, not a thousand
    times."""
    if limit <= 0 or not busy():
        return
    with suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(_quiet.task(_until_quiet)), timeout=limit)
