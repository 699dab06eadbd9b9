"""batchcook.instrument, the job gauges and the worker metrics port without a service: path
templates, the Notion transport's counts and retries, the latency histogram's once-per-batch
rule, and cost/savings from job records."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from openai.types import Batch

from batchcook import instrument
from batchcook.api import metrics_server
from batchcook.config import Settings
from batchcook.generation.catalog import Usage, load_catalog
from batchcook.jobs import BatchState, Cost, Job
from batchcook.workflows import job_metrics


def value(name: str, labels: dict[str, str]) -> float:
    return instrument.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v1/batches", "/v1/batches"),
        ("/v1/batches/batch_6f1e2a9c0d", "/v1/batches/{id}"),
        ("/v1/batches/batch_6f1e2a9c0d/cancel", "/v1/batches/{id}/cancel"),
        ("/v1/files/file-AbC123/content", "/v1/files/{id}/content"),
        ("/v1/images/generations", "/v1/images/generations"),
        ("/v1/pages/1b2c3d4e-0000-4000-8000-123456789abc", "/v1/pages/{id}"),
        ("/v1/blocks/1b2c3d4e00004000800012345678abcd/children", "/v1/blocks/{id}/children"),
        ("/v1/file_uploads/abc-def/send", "/v1/file_uploads/{id}/send"),
        ("/v1/users/me", "/v1/users/me"),
        ("/proxy/openai/v1/batches", "/proxy/openai/v1/batches"),
    ],
)
def test_endpoint_template(path: str, template: str) -> None:
    assert instrument.endpoint_template(path) == template


async def test_notion_transport_counts_codes_errors_and_marked_retries() -> None:
    answers = iter([429, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/boom"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(next(answers))

    labels = {"api": "notion", "method": "POST", "endpoint": "/v1/pages/{id}"}
    before = {
        code: value("batchcook_api_requests_total", {**labels, "code": code})
        for code in ("429", "200")
    }
    errors_before = value("batchcook_api_errors_total", {**labels, "code": "429"})
    retries_before = value("batchcook_api_retries_total", labels)
    async with httpx.AsyncClient(
        transport=instrument.notion_transport(httpx.MockTransport(handler))
    ) as client:

        async def create() -> httpx.Response:
            response = await client.post("http://notion.test/v1/pages/0123456789abcdef")
            response.raise_for_status()
            return response

        attempt = instrument.mark_retries(create)
        with pytest.raises(httpx.HTTPStatusError):
            await attempt()
        assert (await attempt()).status_code == 200
        with pytest.raises(httpx.ConnectError):
            await client.get("http://notion.test/v1/blocks/boom")

    assert value("batchcook_api_requests_total", {**labels, "code": "429"}) == before["429"] + 1
    assert value("batchcook_api_requests_total", {**labels, "code": "200"}) == before["200"] + 1
    assert value("batchcook_api_errors_total", {**labels, "code": "429"}) == errors_before + 1
    assert value("batchcook_api_retries_total", labels) == retries_before + 1  # the 2nd only
    assert (
        value(
            "batchcook_api_errors_total",
            {"api": "notion", "method": "GET", "endpoint": "/v1/blocks/boom", "code": "error"},
        )
        == 0
    )
    assert (
        value(
            "batchcook_api_errors_total",
            {
                "api": "notion",
                "method": "GET",
                "endpoint": "/v1/blocks/boom",
                "code": "connection_error",
            },
        )
        >= 1
    )


def _batch(batch_id: str, status: str, created: int, **stamps: int) -> Batch:
    return Batch.model_validate(
        {
            "id": batch_id,
            "object": "batch",
            "endpoint": "/v1/responses",
            "input_file_id": "file-x",
            "completion_window": "24h",
            "status": status,
            "created_at": created,
            **stamps,
        }
    )


def test_latency_is_observed_once_per_batch_from_openai_timestamps() -> None:
    labels = {"endpoint": "/v1/responses", "status": "completed"}
    count = value("batchcook_batch_latency_seconds_count", labels)
    under_10m = value("batchcook_batch_latency_seconds_bucket", {**labels, "le": "600.0"})
    under_30m = value("batchcook_batch_latency_seconds_bucket", {**labels, "le": "1800.0"})
    running = _batch("batch_unit_a1", "in_progress", 1_000)
    done = _batch("batch_unit_a1", "completed", 1_000, completed_at=1_000 + 900)
    instrument.batches_polled([running])
    assert value("batchcook_batch_latency_seconds_count", labels) == count
    instrument.batches_polled([done])
    instrument.batches_polled([done])  # polled again (its sibling still running): once only
    assert value("batchcook_batch_latency_seconds_count", labels) == count + 1
    assert value("batchcook_batch_latency_seconds_bucket", {**labels, "le": "600.0"}) == under_10m
    assert (
        value("batchcook_batch_latency_seconds_bucket", {**labels, "le": "1800.0"}) == under_30m + 1
    )


def test_summarize_cost_savings_statuses_and_resubmissions() -> None:
    catalog = load_catalog()
    usage = Usage(input_tokens=1_000, output_tokens=2_000)
    batch_usd = catalog.cost("gpt-5.6-luna", "batch", usage)
    standard_usd = catalog.cost("gpt-5.6-luna", "standard", usage)
    assert standard_usd > batch_usd > 0

    def cost(tier: str, usd: float, model: str = "gpt-5.6-luna") -> Cost:
        return Cost(
            custom_id="c", model=model, tier=tier, input_tokens=1_000, output_tokens=2_000, usd=usd
        )

    jobs = [
        Job(
            id="a",
            kind="create",
            prompt="p",
            status="succeeded",
            costs=[cost("batch", batch_usd)],
            batches=[
                BatchState(id="b1", endpoint="/v1/images/generations"),
                BatchState(id="b2", endpoint="/v1/images/generations", attempt=1),
            ],
        ),
        Job(
            id="b",
            kind="create",
            prompt="p",
            mode="standard",
            status="succeeded",
            costs=[cost("standard", standard_usd)],
        ),
        Job(id="c", kind="modify", prompt="p", status="failed", costs=[cost("batch", 1.0, "x")]),
        Job(id="d", kind="create", prompt="p"),
    ]
    snap = job_metrics.summarize(jobs)
    assert snap.scanned == 4
    assert snap.jobs[("succeeded", "create", "batch")] == 1
    assert snap.jobs[("succeeded", "create", "standard")] == 1
    assert snap.jobs[("failed", "modify", "batch")] == 1
    assert snap.jobs[("queued", "create", "batch")] == 1
    assert snap.cost[("gpt-5.6-luna", "batch", "batch")] == pytest.approx(batch_usd)
    assert snap.savings[("gpt-5.6-luna", "batch", "batch")] == pytest.approx(
        standard_usd - batch_usd
    )
    assert snap.savings[("gpt-5.6-luna", "standard", "standard")] == 0
    assert snap.cost[("x", "batch", "batch")] == 1.0  # unknown model: cost, no savings
    assert snap.savings[("x", "batch", "batch")] == 0
    assert snap.resubmissions == {"/v1/images/generations": 1}

    collector = job_metrics.JobRecords()
    collector.snapshot = snap
    families = {f.name: f for f in collector.collect()}
    assert {s.value for s in families["batchcook_jobs_scanned"].samples} == {4}
    savings = {
        tuple(s.labels.values()): s.value for s in families["batchcook_jobs_savings_usd"].samples
    }
    assert savings[("gpt-5.6-luna", "batch", "batch")] == pytest.approx(standard_usd - batch_usd)


def test_a_worker_serves_its_own_counters_on_a_port_behind_the_api_key() -> None:
    assert metrics_server.serve_in_thread(Settings(metrics_port=None)) is None
    port = metrics_server.serve_in_thread(Settings(metrics_port=0, api_key="k-1"))
    assert port
    url = f"http://127.0.0.1:{port}/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(url, params={"key": "k-1"}).status_code == 200
    r = httpx.get(url, headers={"Authorization": "Bearer k-1"})
    assert r.status_code == 200 and "batchcook_api_requests" in r.text


class SlowRecords(job_metrics.JobRecords):
    """Job records that take ``delay`` seconds to read, as under a thousand starting jobs."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay, self.reads = delay, 0

    async def refresh(
        self, catalog_path: object = None, url: str | None = None
    ) -> job_metrics.Snapshot:
        self.reads += 1
        await asyncio.sleep(self.delay)
        self.snapshot = job_metrics.summarize([Job(id=f"j{self.reads}", kind="create", prompt="p")])
        self.read_at = time.time()
        return self.snapshot


async def test_a_scrape_never_waits_long_for_job_records() -> None:
    """A slow read answers the scrape with the last snapshot (and its age) within the wait;
    the read goes on, one at a time however many scrapes come, and the next scrape sees it."""
    records = SlowRecords(delay=0.5)
    started = time.monotonic()
    await asyncio.gather(*(records.fresh(wait=0.05) for _ in range(5)))
    assert time.monotonic() - started < 0.4 and records.snapshot is None
    assert records.reads == 1  # five scrapes, one read
    await records.fresh(wait=2)  # joins the read in flight
    assert records.reads == 1 and records.snapshot is not None
    ages = {f.name: f for f in records.collect()}["batchcook_jobs_snapshot_age_seconds"]
    assert 0 <= ages.samples[0].value < 1
    fast = SlowRecords(delay=0)
    await fast.fresh(wait=1)  # a quick read: the scrape gets it fresh
    assert fast.snapshot is not None and fast.reads == 1
