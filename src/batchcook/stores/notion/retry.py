"""Retries for Notion calls, replacing notion-client's own (turned off).

notion-client 3.1 retries 429 only, treats 529 ``service_overload`` as an unknown error and
never retries it, and retries 5xx only for GET/DELETE. Here: 429 and 529 (Notion did not
do the work) are retried for every method after ``Retry-After``, which also holds the shared
pacer; 5xx and timeouts are retried for calls marked idempotent; for other writes they
raise ``AmbiguousWriteError`` so the store reads back before writing again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time
from typing import TypeVar

import httpx
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from batchcook import instrument
from batchcook.stores.notion.errors import AmbiguousWriteError, NotionAPIError, translate
from batchcook.stores.notion.pacing import Pacer

T = TypeVar("T")
log = logging.getLogger("batchcook.notion")

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
    """5xx and timeouts: up to ``max_retries`` retries, ``base_delay`` seconds doubling per
    attempt (with jitter). 429/529: as many retries as fit in ``max_retry_after`` seconds of
    waiting in total, each after Notion's ``Retry-After`` (or the same backoff without
    one); counting them would starve jobs when many share a busy integration."""

    max_retries: int = 6
    base_delay: float = 1.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int) -> float:
        delay: float = self.base_delay * 2 ** min(attempt, 16)
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
        op = instrument.mark_retries(op)  # counts later attempts' requests as retries
        failures = 0  # 5xx and timeouts
        busy = 0  # 429 and 529
        waited = 0.0
        while True:
            try:
                return await op()
            except HTTPResponseError as error:
                if error.status in NOT_PROCESSED:
                    delay = retry_after(error.headers)
                    delay = self.backoff(busy) if delay is None else delay
                    busy += 1
                    waited += delay
                    if waited > self.max_retry_after:
                        gave_up = translate(error, what, schema)
                        raise _gave_up(gave_up, f"after waiting {waited - delay:.1f} s") from error
                    pacer.hold(delay)
                elif error.status in TRANSIENT and idempotent:
                    if failures >= self.max_retries:
                        gave_up = translate(error, what, schema)
                        raise _gave_up(gave_up, f"after {failures + 1} attempts") from error
                    delay = self.backoff(failures)
                    failures += 1
                elif error.status in TRANSIENT:
                    raise AmbiguousWriteError(translate(error, what, schema)) from error
                else:
                    raise translate(error, what, schema) from error
            except (RequestTimeoutError, httpx.TransportError) as error:
                if not idempotent:
                    raise AmbiguousWriteError(error) from error
                if failures >= self.max_retries:
                    raise NotionAPIError(
                        f"{what} failed: Notion did not answer after {failures + 1} attempts "
                        f"({type(error).__name__}); check NOTION_BASE_URL and try again later.",
                        status=0,
                        code="timeout",
                        notion_message=str(error),
                    ) from error
                delay = self.backoff(failures)
                failures += 1
            log.info("%s: retrying in %.2f s", what, delay)
            await asyncio.sleep(delay)


def _gave_up(error: NotionAPIError, when: str) -> NotionAPIError:
    error.args = (f"{error.args[0]} (gave up {when})",)
    return error
