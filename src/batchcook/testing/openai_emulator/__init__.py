"""An emulator of the OpenAI API surface batchcook uses: Files, Batches, Responses, Images.

emu = OpenAIEmulator()                       # manual clock, instant batches
with serve(emu.app) as url:
    client = AsyncOpenAI(api_key="test", base_url=f"{url}/v1")
    ...
    emu.clock.advance(3600)                   # move batches along without sleeping
    emu.faults.http(status=429, path="/v1/batches", retry_after=0.01)
    emu.faults.next_batch(BatchPlan(force="expired"))
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette

from batchcook.generation.catalog import Catalog, load_catalog
from batchcook.testing.openai_emulator.app import build_app
from batchcook.testing.openai_emulator.clock import Clock, ManualClock, ScaledClock, SystemClock
from batchcook.testing.openai_emulator.errors import APIError
from batchcook.testing.openai_emulator.faults import BatchPlan, FaultPlan, HTTPFault
from batchcook.testing.openai_emulator.fixtures import (
    Fixtures,
    FixturesError,
    load_fixtures,
    shipped_fixtures,
)
from batchcook.testing.openai_emulator.state import EmulatorState

__all__ = [
    "APIError",
    "BatchPlan",
    "Clock",
    "FaultPlan",
    "Fixtures",
    "FixturesError",
    "HTTPFault",
    "ManualClock",
    "OpenAIEmulator",
    "ScaledClock",
    "SystemClock",
    "load_fixtures",
    "shipped_fixtures",
]


@dataclass
class OpenAIEmulator:
    """One emulated OpenAI account: its files, batches, clock and fault plan.

    ``fixtures``: canned answers by prompt — a ``Fixtures``, the path of a fixtures file, or
    ``None`` for schema filler only. By default the recipes shipped with the package, so a
    demo shows a dish a person would cook.
    """

    catalog: Catalog = field(default_factory=load_catalog)
    clock: Clock = field(default_factory=ManualClock)
    api_keys: set[str] | None = None
    max_batch_file_bytes: int = 200 * 1024 * 1024
    max_batch_lines: int = 50_000
    fixtures: Fixtures | str | Path | None = field(default_factory=shipped_fixtures)

    def __post_init__(self) -> None:
        if isinstance(self.fixtures, str | Path):
            self.fixtures = load_fixtures(self.fixtures)
        self.faults = FaultPlan()
        self.state = EmulatorState(
            self.catalog,
            self.clock,
            self.faults,
            max_batch_file_bytes=self.max_batch_file_bytes,
            max_batch_lines=self.max_batch_lines,
            fixtures=self.fixtures,
        )
        self.app: Starlette = build_app(self.state, self.api_keys)

    def advance(self, seconds: float) -> None:
        """Move a manual clock forward (batches progress on their next read, or now when
        webhooks are on, so their events go out)."""
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError("this emulator runs on the system clock")
        advance(seconds)
        if self.state.webhook is not None:
            self.state.advance_all()

    def send_webhooks(self, url: str, secret: str) -> None:
        """POST ``batch.completed`` / ``failed`` / ``expired`` / ``cancelled`` to ``url``,
        signed with ``secret`` (``whsec_…``), as each batch ends."""
        self.state.webhook = (url, secret)
        if not hasattr(self.clock, "advance"):
            threading.Thread(target=self._tick, name="emulator-ticker", daemon=True).start()

    def _tick(self) -> None:
        while self.state.webhook is not None:
            self.state.advance_all()
            time.sleep(0.2)

    @property
    def calls(self) -> dict[str, int]:
        """Requests served per path: what benchmarks and cost tests count."""
        return self.state.calls
