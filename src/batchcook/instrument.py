"""Instrumentation: the Prometheus registry and the metered HTTP transports.

It imports nothing of batchcook's, so generation and the stores count their calls here
without reaching up into the workflows; the job-record gauges are registered into the same
registry by ``batchcook.workflows.job_metrics``, and workers serve it through
``batchcook.api.metrics_server``.

Two kinds, chosen by what stays true when jobs move between processes:

- **From the durable job records, at scrape time** (``batchcook_jobs*``): jobs by status,
  cost and savings, line resubmissions. They are read from the system database (the
  latest ``BATCHCOOK_METRICS_JOB_WINDOW`` jobs), so every process reports the same numbers,
  whichever process ran a job, and a workflow replayed after crash recovery cannot count
  its cost twice (an in-memory counter incremented by the workflow body would: replays
  re-run it). They are gauges over that window, not counters: query them as they are (``max`` across
  instances), not with ``rate()``.
- **Per process, counted as things happen**: HTTP calls to OpenAI and Notion by endpoint
  and code, errors, retries (``batchcook_api_*``), and the batch latency histogram. Each
  process counts what it did itself: scrape every process and ``sum`` across instances.
  The latency is observed in the ``poll_batches`` step (step bodies are not re-run on
  replay) the first time this process sees a batch terminal, from OpenAI's own timestamps
  (``created_at`` → ``completed_at``/``failed_at``/``expired_at``/``cancelled_at``), so it
  measures the batch, not our polling interval.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from openai import DefaultAsyncHttpxClient
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import (
    CONTENT_TYPE_PLAIN_0_0_4,
)

if TYPE_CHECKING:
    from openai.types import Batch

log = logging.getLogger(__name__)
T = TypeVar("T")

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
TERMINAL_BATCH = {
    "completed": "completed_at",
    "failed": "failed_at",
    "expired": "expired_at",
    "cancelled": "cancelled_at",
}
# Seconds: a batch can end in seconds or run to the end of its 24 h window (and finalize).
LATENCY_BUCKETS = (
    10,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    12 * 3600,
    24 * 3600,
    25 * 3600,
)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

API_REQUESTS = Counter(
    "batchcook_api_requests",
    "HTTP requests this process sent to OpenAI or Notion, retries included, by answer "
    "(code = HTTP status, or 'timeout' / 'connection_error' when none came back).",
    ["api", "method", "endpoint", "code"],
    registry=REGISTRY,
)
API_ERRORS = Counter(
    "batchcook_api_errors",
    "The failed subset of batchcook_api_requests: status >= 400 or no answer.",
    ["api", "method", "endpoint", "code"],
    registry=REGISTRY,
)
API_RETRIES = Counter(
    "batchcook_api_retries",
    "Requests that repeated an earlier failed attempt (OpenAI SDK retries on 429/5xx/"
    "connection errors; the Notion store's retries on 429/529/5xx/timeouts).",
    ["api", "method", "endpoint"],
    registry=REGISTRY,
)
BATCH_LATENCY = Histogram(
    "batchcook_batch_latency_seconds",
    "Batch submit → terminal, by OpenAI's timestamps; observed once per batch by the "
    "process whose job polled it.",
    ["endpoint", "status"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)

# --- HTTP calls ---------------------------------------------------------------------------

# Words ("file_uploads", "children") and versions ("v1") stay; anything else is an id.
_WORD_SEGMENT = re.compile(r"^(?:[a-z][a-z_]{0,39}|v\d{1,2})$")


def endpoint_template(path: str) -> str:
    """``/v1/batches/batch_6f1e…/cancel`` → ``/v1/batches/{id}/cancel``: any segment that is
    not a plain lowercase word (ids carry digits, dashes or capitals) becomes ``{id}``, so
    label values stay few whatever ids the APIs invent."""
    parts = path.split("/")
    return "/".join(p if not p or _WORD_SEGMENT.match(p) else "{id}" for p in parts)


def record_call(api: str, method: str, path: str, code: int | str, *, retry: bool) -> None:
    endpoint = endpoint_template(path)
    API_REQUESTS.labels(api, method, endpoint, str(code)).inc()
    if not isinstance(code, int) or code >= 400:
        API_ERRORS.labels(api, method, endpoint, str(code)).inc()
    if retry:
        API_RETRIES.labels(api, method, endpoint).inc()


def _failure_code(error: BaseException) -> str:
    return "timeout" if "Timeout" in type(error).__name__ else "connection_error"


async def _counted(
    api: str,
    method: str,
    path: str,
    retry: bool,
    send: Callable[[], Awaitable[T]],
    status: Callable[[T], int],
) -> T:
    try:
        response = await send()
    except Exception as error:  # not CancelledError (a BaseException): nothing was answered
        record_call(api, method, path, _failure_code(error), retry=retry)
        raise
    record_call(api, method, path, status(response), retry=retry)
    return response


class MeteredOpenAIHttpClient(DefaultAsyncHttpxClient):
    """The SDK's default async HTTP client (its timeouts, connection limits and proxy
    settings kept), counting every request it sends. The SDK marks its retries with
    ``x-stainless-retry-count``."""

    async def send(self, request: Any, **kwargs: Any) -> Any:
        retry = request.headers.get("x-stainless-retry-count", "0") not in ("", "0")
        return await _counted(
            "openai",
            request.method,
            request.url.path,
            retry,
            lambda: super(MeteredOpenAIHttpClient, self).send(request, **kwargs),
            lambda r: int(r.status_code),
        )


def openai_http_client() -> Any:
    """For ``AsyncOpenAI(http_client=...)``: counts calls by endpoint and code."""
    return MeteredOpenAIHttpClient()


_retrying: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "batchcook_retrying", default=False
)


def mark_retries(op: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """Wrap a retried operation: its second and later calls are flagged as retries, so the
    Notion transport below counts the requests they send under batchcook_api_retries."""
    calls = 0

    async def attempt() -> T:
        nonlocal calls
        token = _retrying.set(calls > 0)
        calls += 1
        try:
            return await op()
        finally:
            _retrying.reset(token)

    return attempt


class MeteredTransport(httpx.AsyncBaseTransport):
    """An httpx transport counting each request sent through ``inner`` for ``api``."""

    def __init__(self, api: str, inner: httpx.AsyncBaseTransport) -> None:
        self.api = api
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await _counted(
            self.api,
            request.method,
            request.url.path,
            _retrying.get(),
            lambda: self.inner.handle_async_request(request),
            lambda r: r.status_code,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def notion_transport(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    return MeteredTransport("notion", inner)


# --- batch latency ------------------------------------------------------------------------

_OBSERVED_MAX = 10_000
_observed: OrderedDict[str, None] = OrderedDict()


def batches_polled(batches: Iterable[Batch]) -> None:
    """Observe each batch's latency the first time this process sees it terminal."""
    for batch in batches:
        stamp_field = TERMINAL_BATCH.get(batch.status)
        if stamp_field is None or batch.id in _observed:
            continue
        _observed[batch.id] = None
        if len(_observed) > _OBSERVED_MAX:
            _observed.popitem(last=False)
        ended = getattr(batch, stamp_field, None) or time.time()
        BATCH_LATENCY.labels(batch.endpoint, batch.status).observe(
            max(0.0, float(ended) - float(batch.created_at))
        )


def exposition() -> bytes:
    """The text exposition of everything registered (process counters, and the job gauges
    when ``batchcook.workflows.job_metrics`` has refreshed them)."""
    return generate_latest(REGISTRY)
