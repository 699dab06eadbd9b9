"""Fault plans: what should go wrong, chosen per test (from Python) or per run (over HTTP).

Two kinds. HTTP faults hit the next matching requests: an error status (429 with
``retry-after``, 500, 503), a slow answer, or a download cut off mid-stream. Batch plans
shape how the next batch lives: how long each phase takes on the emulator's clock (``inf``
= stuck), a forced ending (failed / expired / cancelled), lines that fail, a malformed
output line.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["error", "slow", "truncate"]


@dataclass
class HTTPFault:
    kind: FaultKind = "error"
    status: int = 500
    method: str | None = None
    path: str | None = None  # a prefix of the request path, e.g. "/v1/batches"
    times: int = 1
    retry_after: float = 1.0
    seconds: float = 0.0  # for "slow"
    body_contains: str | None = None  # only requests whose body holds this text

    def matches(self, method: str, path: str, body: bytes = b"") -> bool:
        return (
            (self.method is None or self.method == method)
            and (self.path is None or path.startswith(self.path))
            and (self.body_contains is None or self.body_contains.encode() in body)
        )


@dataclass
class BatchPlan:
    """How one batch behaves. Durations are seconds on the emulator's clock."""

    validating: float = 0.0
    in_progress: float = 0.0
    finalizing: float = 0.0
    cancelling: float = 0.0
    force: Literal["failed", "expired", "cancelled"] | None = None
    finished: int | None = None  # lines done before a forced expiry/cancel (default: half)
    errors: list[dict[str, Any]] | None = None  # errors.data for a forced failure
    fail_lines: set[str] = field(default_factory=set)  # custom_ids answered with a 500
    malformed_line: bool = False  # one output line cut short (invalid JSON)

    @classmethod
    def stuck(cls, phase: Literal["validating", "in_progress", "finalizing"]) -> BatchPlan:
        plan = cls()
        setattr(plan, phase, math.inf)
        return plan

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchPlan:
        data = dict(data)
        for key in ("validating", "in_progress", "finalizing", "cancelling"):
            if data.get(key) == "inf":
                data[key] = math.inf
        if "fail_lines" in data:
            data["fail_lines"] = set(data["fail_lines"])
        return cls(**data)


class FaultPlan:
    """Thread-safe queue of HTTP faults plus the plans for upcoming batches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._http: list[HTTPFault] = []
        self._batches: list[tuple[str | None, BatchPlan]] = []
        self.default_batch = BatchPlan()

    def http(self, fault: HTTPFault | None = None, **kwargs: Any) -> HTTPFault:
        fault = fault or HTTPFault(**kwargs)
        with self._lock:
            self._http.append(fault)
        return fault

    def next_batch(self, plan: BatchPlan, endpoint: str | None = None) -> None:
        """Use ``plan`` for the next batch created (for ``endpoint``, if given)."""
        with self._lock:
            self._batches.append((endpoint, plan))

    def take_http(self, method: str, path: str, body: bytes = b"") -> HTTPFault | None:
        with self._lock:
            for fault in self._http:
                if fault.times > 0 and fault.matches(method, path, body):
                    fault.times -= 1
                    if fault.times == 0:
                        self._http.remove(fault)
                    return fault
        return None

    def take_batch_plan(self, endpoint: str) -> BatchPlan:
        with self._lock:
            for i, (wanted, plan) in enumerate(self._batches):
                if wanted is None or wanted == endpoint:
                    del self._batches[i]
                    return plan
        return self.default_batch

    def clear(self) -> None:
        with self._lock:
            self._http.clear()
            self._batches.clear()
            self.default_batch = BatchPlan()
