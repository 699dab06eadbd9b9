"""Waiting for state in tests and benches: poll with a deadline, never sleep a fixed time.

One helper, sync and async, so every wait fails the same way: ``TimeoutError`` after
``timeout`` seconds, naming what it waited for.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def poll(
    check: Callable[[], T | None], what: str, timeout: float = 30, interval: float = 0.05
) -> T:
    """``check()`` until it returns something truthy, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def poll_async(
    check: Callable[[], Awaitable[T | None]] | Callable[[], T | None],
    what: str,
    timeout: float = 30,
    interval: float = 0.05,
) -> T:
    """The same inside an event loop; ``check`` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        found: Any = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def wait_for_text(log: Path, text: str, timeout: float = 30) -> str:
    """The log's content once it holds ``text``."""

    def check() -> str | None:
        content = log.read_text(errors="replace") if log.exists() else ""
        return content if text in content else None

    return poll(check, f"{text!r} in {log.name}", timeout, interval=0.1)
