"""Which failures are worth waiting out: the cause, not the step, decides.

A job that has paid for its batches must not fail for good because OpenAI said 429 thirty
times, a download was cut off, or SQLite was locked for a moment: those pass, and the step
can simply run again later. A 400, a refusal or a schema mismatch does not pass, and trying
again only costs time. This module imports nothing of ours, so every layer can use it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

import httpx
import openai

from batchcook.stores.base import StoreError

# Statuses that say "later": timeout, conflict (a resource busy), too early, rate limit.
_TRANSIENT_STATUSES = {408, 409, 425, 429}
_DATABASE_BUSY = ("database is locked", "database table is locked", "could not obtain lock")


def _chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and what caused it (``raise … from``, implicit context, or a ``cause``
    attribute as our own wrappers keep), each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        cause = getattr(current, "cause", None)
        todo.extend(
            [
                current.__cause__,
                current.__context__,
                cause if isinstance(cause, BaseException) else None,
            ]
        )


def _one(err: BaseException) -> bool:
    if isinstance(err, openai.APIStatusError):
        return err.status_code in _TRANSIENT_STATUSES or err.status_code >= 500
    if isinstance(err, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(err, httpx.TransportError):  # connect/read errors, cut-off bodies, timeouts
        return True
    if isinstance(err, (TimeoutError, asyncio.TimeoutError, ConnectionError)):
        return True
    if isinstance(err, sqlite3.OperationalError):
        return any(text in str(err).lower() for text in _DATABASE_BUSY)
    name = type(err).__name__
    module = type(err).__module__
    if module.startswith("sqlalchemy") and name == "TimeoutError":
        return True  # no pooled connection free in time: the pool was busy (seen under load)
    if module.startswith("sqlalchemy") and name in ("OperationalError", "DBAPIError"):
        if getattr(err, "connection_invalidated", False):
            return True
        return any(text in str(err).lower() for text in _DATABASE_BUSY)
    if module.startswith("psycopg") and name in ("OperationalError", "InterfaceError"):
        return True  # the server went away or refused a connection for now
    # The stores mark Notion's busy/5xx/silent answers (and ambiguous writes, which they find
    # again by job id) as retryable. Generation errors use ``retryable`` for "resubmitting the
    # request could help", which costs money: that is the workflow's call, not a wait.
    return isinstance(err, StoreError) and err.retryable


def is_transient(err: BaseException) -> bool:
    """True when ``err`` (or anything that caused it) is a fault that passes with time."""
    return any(_one(e) for e in _chain(err))
