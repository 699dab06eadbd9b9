"""Prometheus metrics for ``GET /metrics``, in a registry of our own (not the global one).

Two kinds, chosen by what stays true when jobs move between processes:

- **From the durable job records, at scrape time** (``batchcook_jobs*``): jobs by status,
  cost and savings, line resubmissions. They are read from the system database (the
  latest ``RECORD_WINDOW`` jobs), so every process reports the same numbers, whichever
  process ran a job, and a workflow replayed after crash recovery cannot count its cost
  twice (an in-memory counter incremented by the workflow body would: replays re-run it).
  They are gauges over that window, not counters: query them as they are (``max`` across
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
import hmac
import logging
import re
import threading
import time
from collections import Counter as Tally
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs

import httpx
from openai import DefaultAsyncHttpxClient
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import (
    CONTENT_TYPE_PLAIN_0_0_4,
    ThreadingWSGIServer,
    _SilentHandler,
    make_wsgi_app,
)
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from openai.types import Batch

    from batchcook.config import Settings
    from batchcook.jobs import Job

log = logging.getLogger(__name__)
T = TypeVar("T")

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
RECORD_WINDOW = 1000  # job records the batchcook_jobs* gauges cover (the latest ones)
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


# --- job records --------------------------------------------------------------------------


@dataclass
class Snapshot:
    """What the latest job records say, aggregated."""

    scanned: int = 0
    jobs: Tally[tuple[str, str, str]] = field(default_factory=Tally)  # status, kind, mode
    cost: defaultdict[tuple[str, str, str], float] = field(  # model, tier, mode
        default_factory=lambda: defaultdict(float)
    )
    savings: defaultdict[tuple[str, str, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    resubmissions: Tally[str] = field(default_factory=Tally)  # endpoint


def summarize(jobs: Iterable[Job], catalog_path: Any = None) -> Snapshot:
    """Aggregate job records. Savings = the same tokens at the standard price minus at the
    tier billed (0 for standard); models missing from the catalog add cost, no savings."""
    from batchcook.generation.catalog import Usage, load_catalog

    catalog = load_catalog(catalog_path)
    snap = Snapshot()
    for job in jobs:
        snap.scanned += 1
        snap.jobs[(job.status, job.kind, job.mode)] += 1
        for cost in job.costs:
            key = (cost.model, cost.tier, job.mode)
            snap.cost[key] += cost.usd
            if cost.tier == "standard" or catalog.find(cost.model) is None:
                snap.savings[key] += 0.0
                continue
            usage = Usage(input_tokens=cost.input_tokens, output_tokens=cost.output_tokens)
            try:
                standard = catalog.cost(cost.model, "standard", usage)
                billed = catalog.cost(cost.model, cost.tier, usage)  # type: ignore[arg-type]
            except ValueError:  # no standard (or tier) price listed
                snap.savings[key] += 0.0
                continue
            snap.savings[key] += max(0.0, standard - billed)
        for batch in job.batches:
            if batch.attempt > 0:
                snap.resubmissions[batch.endpoint] += 1
    return snap


class JobRecords(Collector):
    """The ``batchcook_jobs*`` gauges. ``refresh()`` (async, from the route) reads the
    records; ``collect()`` (sync, from the exposition) reports the last snapshot. Finished
    jobs' records never change, so they are cached: a scrape reads one workflow listing
    plus the records of unfinished jobs."""

    def __init__(self, window: int = RECORD_WINDOW) -> None:
        self.window = window
        self.snapshot: Snapshot | None = None
        self._finished: dict[str, Job] = {}

    async def refresh(self, catalog_path: Any = None) -> Snapshot:
        from dbos import DBOS

        from batchcook.jobs import TERMINAL_STATUSES
        from batchcook.workflows import engine

        # No lock: two concurrent scrapes both read, and the last one's cache stays.
        workflows = await DBOS.list_workflows_async(
            name=["create_recipe", "modify_recipe"],  # as engine.list_jobs
            sort_desc=True,
            limit=self.window,
            load_input=False,
            load_output=False,
        )
        jobs: list[Job] = []
        for w in workflows:
            job = self._finished.get(w.workflow_id) or await engine.get_job(w.workflow_id)
            if job is not None:
                jobs.append(job)
        self._finished = {j.id: j for j in jobs if j.status in TERMINAL_STATUSES}
        self.snapshot = summarize(jobs, catalog_path)
        return self.snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        scanned = GaugeMetricFamily(
            "batchcook_jobs_scanned",
            f"Job records the batchcook_jobs* gauges cover (the latest, at most {self.window}).",
        )
        scanned.add_metric([], snap.scanned)
        yield scanned
        jobs = GaugeMetricFamily(
            "batchcook_jobs",
            "Jobs by status, kind and mode, among the latest job records.",
            labels=["status", "kind", "mode"],
        )
        for key, n in sorted(snap.jobs.items()):
            jobs.add_metric(list(key), n)
        yield jobs
        for name, doc, values in (
            (
                "batchcook_jobs_cost_usd",
                "USD spent by the latest jobs, by model, tier billed and job mode.",
                snap.cost,
            ),
            (
                "batchcook_jobs_savings_usd",
                "USD saved by the latest jobs against the standard price of the same tokens.",
                snap.savings,
            ),
        ):
            family = GaugeMetricFamily(name, doc, labels=["model", "tier", "mode"])
            for key, usd in sorted(values.items()):
                family.add_metric(list(key), round(usd, 9))
            yield family
        resubmitted = GaugeMetricFamily(
            "batchcook_jobs_batch_resubmissions",
            "Batches the latest jobs resubmitted for failed or expired lines (attempt > 0).",
            labels=["endpoint"],
        )
        for endpoint, n in sorted(snap.resubmissions.items()):
            resubmitted.add_metric([endpoint], n)
        yield resubmitted


JOB_RECORDS = JobRecords()
REGISTRY.register(JOB_RECORDS)


async def exposition(catalog_path: Any = None) -> bytes:
    """The text exposition: process counters plus freshly read job-record gauges. If the
    records cannot be read, the scrape still answers, without the batchcook_jobs* gauges."""
    try:
        await JOB_RECORDS.refresh(catalog_path)
    except Exception as err:
        log.warning("metrics: could not read job records: %s", err)
        JOB_RECORDS.snapshot = None
    return generate_latest(REGISTRY)


# --- a port of its own, for processes without the API (workers) ---------------------------

_served: dict[tuple[str, int], Any] = {}


def serve_in_thread(settings: Settings) -> int | None:
    """With ``BATCHCOOK_METRICS_PORT``, serve this process's metrics on that port (0: any
    free port) from a daemon thread, and return the port. For workers: they make the
    OpenAI and Notion calls but serve no API. Same key rule as ``GET /metrics``. The
    ``batchcook_jobs*`` gauges are left to the API processes. A port already in use is
    logged, not fatal (a CLI run beside a worker on the same machine)."""
    from wsgiref.simple_server import make_server

    if settings.metrics_port is None:
        return None
    key = settings.api_key.get_secret_value().encode() if settings.api_key else None
    app = make_wsgi_app(REGISTRY)

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        if key is not None:
            header = str(environ.get("HTTP_AUTHORIZATION", ""))
            given = header[7:] if header.lower().startswith("bearer ") else ""
            if not given:
                query = parse_qs(str(environ.get("QUERY_STRING", "")))
                given = (query.get("key") or [""])[0]
            if not given or not hmac.compare_digest(given.encode(), key):
                start_response("401 Unauthorized", [("Content-Type", "text/plain")])
                return [b"missing or wrong API key: send 'Authorization: Bearer <key>'\n"]
        return app(environ, start_response)

    where = (settings.metrics_host, settings.metrics_port)
    if where in _served:
        return int(_served[where].server_port)
    try:
        server = make_server(*where, guarded, ThreadingWSGIServer, handler_class=_SilentHandler)
    except OSError as err:
        log.warning("metrics: cannot listen on %s:%s: %s", *where, err)
        return None
    _served[where] = server
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%s/metrics", settings.metrics_host, server.server_port)
    return int(server.server_port)
