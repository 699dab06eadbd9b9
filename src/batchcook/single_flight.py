"""One run at a time: callers that arrive while a coroutine runs for a key share that run.

Three places need it — the job-metrics read behind ``/metrics``, the create preflight's
Notion check, and jobs waiting for a busy API — each because a burst of callers would
otherwise repeat the same work (a thousand scrapes, fifty Notion reads, a thousand timers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Task[T]] = {}

    def task(
        self,
        start: Callable[[], Coroutine[Any, Any, T]],
        key: Hashable = None,
        on_done: Callable[[asyncio.Task[T]], object] | None = None,
    ) -> asyncio.Task[T]:
        """The run under way for ``key`` on this event loop, or a new one of ``start()``
        (``on_done`` called when a new one ends: a run nobody waited for still reports its
        failure). Await it through ``asyncio.shield`` so one caller's timeout does not
        cancel it."""
        loop = asyncio.get_running_loop()
        task = self._running.get(key)
        if task is None or task.done() or task.get_loop() is not loop:
            task = self._running[key] = loop.create_task(start())
            if on_done is not None:
                task.add_done_callback(on_done)
        return task
