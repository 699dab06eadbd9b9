"""One request budget per Notion integration, shared by every concurrent job.

Notion allows an average of 3 requests per second per integration. Pacing every HTTP
request the client sends (at the transport, so the SDK's own calls and ours all count)
keeps a process under that average instead of discovering it through 429s. A 429 or 529
``Retry-After`` pushes the whole budget back, so concurrent jobs wait together.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time

import httpx


class Pacer:
    """Evenly spaced request slots at ``rate`` per second (a GCRA without burst).

    Thread-safe and loop-agnostic: a slot is reserved under a lock, then waited for with
    ``asyncio.sleep`` on the caller's loop."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()
        self.requests = 0

    def reserve(self) -> float:
        """Claim the next slot; returns how long to wait for it."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
            self.requests += 1
            return slot - now

    def hold(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (Notion said ``Retry-After``)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


_shared: dict[tuple[str, float], Pacer] = {}
_shared_lock = threading.Lock()


def shared_pacer(token: str, rate: float) -> Pacer:
    """The process-wide pacer for this integration token (kept by a hash, not the token)."""
    key = (hashlib.sha256(token.encode()).hexdigest(), rate)
    with _shared_lock:
        return _shared.setdefault(key, Pacer(rate))


class PacedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that waits for a pacer slot before each request."""

    def __init__(self, pacer: Pacer, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.pacer = pacer
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.pacer.acquire()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
