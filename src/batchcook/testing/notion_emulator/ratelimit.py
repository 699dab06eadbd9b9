"""Notion's request limit: an average of 3 requests per second per integration token,
with some burst allowed, answered with 429 ``rate_limited`` and ``Retry-After`` seconds.

A token bucket on the emulator's clock. Notion does not publish its burst size; the default
here (10) is a guess, documented in the README.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from batchcook.testing.notion_emulator.clock import Clock


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimit:
    """``rate`` requests per second on average, ``burst`` at once; ``rate=None`` is off."""

    clock: Clock
    rate: float | None = 3.0
    burst: float = 10.0
    limited: int = 0
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, rate: float | None, burst: float | None = None) -> None:
        with self._lock:
            self.rate = rate
            if burst is not None:
                self.burst = burst
            self._buckets.clear()

    def check(self, key: str) -> int | None:
        """Take one request from ``key``'s budget: ``None`` if allowed, else the whole
        seconds to wait (Notion's ``Retry-After`` is an integer)."""
        with self._lock:
            if self.rate is None:
                return None
            now = self.clock.monotonic()
            bucket = self._buckets.setdefault(key, _Bucket(self.burst, now))
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            self.limited += 1
            return max(1, math.ceil((1 - bucket.tokens) / self.rate))
