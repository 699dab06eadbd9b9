"""Time for the emulator, which tests can move forward instead of sleeping.

File uploads expire an hour after creation and the rate limiter refills with time; both read
this clock, so a test checks expiry or a refilled budget with ``clock.advance(...)``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Real time plus an offset that only grows."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, as the emulator sees them."""
        return time.time() + self._offset

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the emulator's clock only moves forward")
        with self._lock:
            self._offset += seconds

    def iso(self, at: float | None = None) -> str:
        """Notion's timestamp format: ISO 8601, UTC, milliseconds, ``Z``."""
        moment = datetime.fromtimestamp(self.now() if at is None else at, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
