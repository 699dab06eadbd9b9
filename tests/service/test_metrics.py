"""GET /metrics over real HTTP after real jobs against both emulators, through the clients
the service builds itself (``openai_client(settings)``, ``NotionStore``), on SQLite and
PostgreSQL: calls by endpoint and code, injected 429s and their retries, the latency of a
batch that took 15 emulated minutes, jobs by status, cost, savings and resubmissions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import job_waits
import pytest
from job_waits import wait_all
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from batchcook.api.app import create_app
from batchcook.config import Settings
from batchcook.jobs import Job, new_job_id
from batchcook.stores.notion import NotionStore
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator
from batchcook.testing.server import serve
from batchcook.workflows import engine, job_index, job_metrics
from batchcook.workflows.runtime import configure
from engine_fixtures import notion_store_for

KEY = "metrics-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def api(service: Settings, notion_emu: NotionEmulator) -> Iterator[str]:
    """The service's own OpenAI client factory (the metered one), and a real NotionStore."""

    def store(database_id: str | None = None) -> NotionStore:
        return notion_store_for(notion_emu, service.notion_base_url, user_id=None)

    configure(service, store=store)
    settings = service.model_copy(update={"api_key": SecretStr(KEY)})
    with serve(create_app(settings, manage_engine=False)) as url:
        yield url


def scrape(url: str, **kwargs: Any) -> Samples:
    r = httpx.get(f"{url}/metrics", **({"headers": AUTH} | kwargs))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def get(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum over the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= lab)


def wait_job(url: str, job_id: str, statuses: tuple[str, ...], timeout: float = 30) -> Any:
    return job_waits.wait_job(url, job_id, statuses, timeout, headers=AUTH)


def test_metrics_needs_the_api_key(api: str) -> None:
    assert httpx.get(f"{api}/metrics").status_code == 401
    assert httpx.get(f"{api}/metrics", headers={"Authorization": "Bearer no"}).status_code == 401
    assert httpx.get(f"{api}/metrics", params={"key": KEY}).status_code == 200
    assert "batchcook_api_requests" in httpx.get(f"{api}/metrics", headers=AUTH).text


def test_a_batch_job_shows_in_every_metric(
    api: str, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    before = scrape(api)
    openai_emu.faults.default_batch = BatchPlan(in_progress=900)  # 15 emulated minutes
    openai_emu.faults.http(status=429, method="POST", path="/v1/batches", retry_after=0.05)
    notion_emu.faults.add("POST", r"^/v1/pages$", status=429, retry_after=0)

    created = httpx.post(
        f"{api}/api/recipes",
        json={"prompt": "pasta carbonara", "request_id": uuid.uuid4().hex},
        headers=AUTH,
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    wait_job(api, job_id, ("generating",))
    openai_emu.advance(900)
    done = wait_job(api, job_id, ("succeeded", "failed"))
    assert done["status"] == "succeeded", done["error"]
    after = scrape(api, params={"key": KEY})  # the query key works for Prometheus too

    def delta(name: str, **labels: str) -> float:
        return get(after, name, **labels) - get(before, name, **labels)

    calls = "batchcook_api_requests_total"
    batches = {"api": "openai", "method": "POST", "endpoint": "/v1/batches"}
    assert delta(calls, **batches, code="200") >= 2  # one batch per endpoint
    assert delta(calls, **batches, code="429") == 1  # the injected fault...
    assert delta("batchcook_api_errors_total", **batches, code="429") == 1
    assert delta("batchcook_api_retries_total", **batches) >= 1  # ...and the SDK's retry
    assert delta(calls, api="openai", method="POST", endpoint="/v1/files", code="200") >= 2
    # Polls read both batches from one list page, not a retrieve each.
    assert delta(calls, api="openai", method="GET", endpoint="/v1/batches", code="200") >= 1
    # Files expire by themselves (expires_after): no delete calls.
    assert delta(calls, api="openai", method="DELETE", endpoint="/v1/files/{id}", code="200") == 0

    pages = {"api": "notion", "method": "POST", "endpoint": "/v1/pages"}
    assert delta(calls, **pages, code="200") >= 1
    assert delta(calls, **pages, code="429") == 1
    assert delta("batchcook_api_retries_total", **pages) >= 1
    assert delta(calls, api="notion", method="POST", endpoint="/v1/comments", code="200") >= 1

    for endpoint in ("/v1/responses", "/v1/images/generations"):
        latency = {"endpoint": endpoint, "status": "completed"}
        assert delta("batchcook_batch_latency_seconds_count", **latency) == 1
        assert delta("batchcook_batch_latency_seconds_bucket", **latency, le="600.0") == 0
        assert delta("batchcook_batch_latency_seconds_bucket", **latency, le="1800.0") == 1

    jobs = {"status": "succeeded", "kind": "create", "mode": "batch"}
    assert delta("batchcook_jobs", **jobs) >= 1
    assert get(after, "batchcook_jobs_scanned") >= 1
    cost = total(after, "batchcook_jobs_cost_usd", tier="batch", mode="batch")
    assert cost - total(before, "batchcook_jobs_cost_usd", tier="batch", mode="batch") == (
        pytest.approx(done["cost_usd"], abs=1e-6)
    )
    saved = total(after, "batchcook_jobs_savings_usd", tier="batch") - total(
        before, "batchcook_jobs_savings_usd", tier="batch"
    )
    assert saved > 0
    assert saved == pytest.approx(done["cost_usd"], rel=0.01)  # batch is half the price


def test_a_resubmitted_line_is_counted(
    api: str, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    job_id = f"create-{uuid.uuid4().hex}"
    openai_emu.faults.next_batch(
        BatchPlan(fail_lines={f"{job_id}-image"}), endpoint="/v1/images/generations"
    )
    before = scrape(api)
    created = httpx.post(
        f"{api}/api/recipes",
        json={"prompt": "ramen", "request_id": job_id.removeprefix("create-")},
        headers=AUTH,
    )
    assert created.json()["job_id"] == job_id
    done = wait_job(api, job_id, ("succeeded", "failed"))
    assert done["status"] == "succeeded", done["error"]
    assert [b["attempt"] for b in done["batches"]].count(1) == 1
    after = scrape(api)
    name, labels = "batchcook_jobs_batch_resubmissions", {"endpoint": "/v1/images/generations"}
    assert get(after, name, **labels) - get(before, name, **labels) == 1


async def test_the_job_gauges_read_the_job_index_not_each_record(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """A job writes what the gauges count to the job index as it publishes (no prompt, no
    page); a scrape counts from it in one query, and reads a job's record only when its row
    is missing (pruned) — once, since a finished job does not change."""
    job = Job(id=new_job_id("create", uuid.uuid4().hex), kind="create", prompt="secret soup")
    await engine.start_job(job)
    [done] = await wait_all([job.id])
    assert done.status == "succeeded", done.error
    url = service.database()
    row = (await asyncio.to_thread(job_index.read, url, [job.id]))[job.id]
    assert (row.status, row.prompt, row.page_id) == ("succeeded", "", None)
    assert row.costs == done.costs

    # The index is what a scrape reads: a row that says otherwise is what is counted.
    await asyncio.to_thread(job_index.put, url, done.model_copy(update={"mode": "flex"}))
    records = job_metrics.JobRecords(window=5)
    snap = await records.refresh(url=url)
    assert snap.jobs[("succeeded", "create", "flex")] >= 1

    # A row pruned away: the record is read instead (and cached, finished).
    with job_index._engine(url).begin() as conn:
        conn.execute(job_index.index.delete().where(job_index.index.c.job_id == job.id))
    fresh = job_metrics.JobRecords(window=5)
    snap = await fresh.refresh(url=url)
    assert snap.jobs[("succeeded", "create", "batch")] >= 1
    assert job.id in fresh._finished


def test_prune_keeps_the_window_and_every_unfinished_job(service: Settings) -> None:
    url, tag = service.database(), uuid.uuid4().hex[:8]
    finished = [
        Job(id=f"{tag}-{i}", kind="create", prompt="p", status="succeeded") for i in range(5)
    ]
    running = Job(id=f"{tag}-run", kind="create", prompt="p", status="generating")
    job_index.put(url, running)
    for job in finished:
        job_index.put(url, job)
    job_index.prune(url, keep=2)
    left = job_index.read(url, [j.id for j in [running, *finished]])
    assert running.id in left  # older than the window, but not finished
    assert set(left) - {running.id} == {finished[3].id, finished[4].id}
