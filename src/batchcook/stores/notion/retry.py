"""Retries for Notion calls, replacing notion-client's own (turned off).

notion-client 3.1 retries 429 only, treats 529 ``service_overload`` as an unknown error and
never retries it, and retries 5xx only for GET/DELETE. Here: 429 and 529 (Notion did not
do the work) are retried for every method after ``Retry-After``, which also holds the shared
pacer; 5xx and timeouts are retried for calls marked idempotent; for other writes they
raise ``AmbiguousWriteError`` so the store reads back before writing again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time
from typing import TypeVar

import httpx
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from batchcook.stores.notion.errors import AmbiguousWriteError, NotionAPIError, translate
from batchcook.stores.notion.pacing import Pacer

T = TypeVar("T")

NOT_PROCESSED = {429, 529}
TRANSIENT = {500, 502, 503, 504}


def retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


@dataclass
class RetryPolicy:
    """``base_delay`` seconds doubles per attempt (with jitter) when Notion gives no
    ``Retry-After``; a ``Retry-After`` longer than ``max_retry_after`` is not waited for."""

    max_retries: int = 6
    base_delay: float = 1.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int) -> float:
        delay: float = self.base_delay * 2**attempt
        return delay / 2 + random.random() * delay / 2

    async def call(
        self,
        op: Callable[[], Awaitable[T]],
        *,
        what: str,
        idempotent: bool,
        pacer: Pacer,
        schema: dict[str, str],
    ) -> T:
        attempt = 0
        while True:
            try:
                return await op()
            except HTTPResponseError as error:
                if error.status in NOT_PROCESSED:
                    delay = retry_after(error.headers)
                    delay = self.backoff(attempt) if delay is None else delay
                    if delay > self.max_retry_after:
                        raise translate(error, what, schema) from error
                    pacer.hold(delay)
                elif error.status in TRANSIENT and idempotent:
                    delay = self.backoff(attempt)
                elif error.status in TRANSIENT:
                    raise AmbiguousWriteError(translate(error, what, schema)) from error
                else:
                    raise translate(error, what, schema) from error
                if attempt >= self.max_retries:
                    raise _gave_up(translate(error, what, schema), attempt) from error
            except (RequestTimeoutError, httpx.TransportError) as error:
                if not idempotent:
                    raise AmbiguousWriteError(error) from error
                if attempt >= self.max_retries:
                    raise NotionAPIError(
                        f"{what} failed: Notion did not answer after {attempt + 1} attempts "
                        f"({type(error).__name__}); check NOTION_BASE_URL and try again later.",
                        status=0,
                        code="timeout",
                        notion_message=str(error),
                    ) from error
                delay = self.backoff(attempt)
            attempt += 1
            await asyncio.sleep(delay)


def _gave_up(error: NotionAPIError, attempt: int) -> NotionAPIError:
    error.args = (f"{error.args[0]} (gave up after {attempt + 1} attempts)",)
    return error
