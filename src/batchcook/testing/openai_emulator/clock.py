"""Clocks for the emulators: a manual one for tests (no sleeping), the system one for demos."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """Starts at the real time (so timestamps look real) and moves only when told."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now


class ScaledClock:
    """The system clock running ``factor`` times faster: a benchmark watches 20-minute
    batches in one minute, with the service's intervals divided by the same factor."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self._start = time.time()

    def now(self) -> float:
        return self._start + (time.time() - self._start) * self.factor
