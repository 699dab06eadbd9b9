"""Fault plans: make the next matching request fail, stall, or lose its response.

A test says what should go wrong (``emulator.faults.add(method="POST", path="/v1/pages",
status=503, after_commit=True)``) and the store's recovery is exercised over real HTTP.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """One planned misbehaviour, used ``times`` times by matching requests."""

    method: str | None = None
    path: str = ""
    status: int | None = None
    delay: float = 0.0
    after_commit: bool = False
    retry_after: int | None = None
    times: int = 1
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None


class FaultPlan:
    """Faults in the order added; the first live match wins."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        method: str | None = None,
        path: str = "",
        *,
        status: int | None = None,
        delay: float = 0.0,
        after_commit: bool = False,
        retry_after: int | None = None,
        times: int = 1,
    ) -> Fault:
        """Plan a fault. ``path`` is a regular expression searched in the request path.
        ``after_commit`` runs the request, then answers ``status`` anyway: the response
        lost after the write, as when a connection drops or Notion answers 503 late."""
        fault = Fault(method, path, status, delay, after_commit, retry_after, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.hits < fault.times and fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [fault for fault in self._faults if fault.hits < fault.times]
