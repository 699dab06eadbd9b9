"""The durable workflows against both emulators, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid

from batchcook.config import Settings
from batchcook.jobs import Job, new_job_id
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator
from batchcook.workflows import engine


async def wait_for(
    job_id: str, statuses: tuple[str, ...] = ("succeeded", "failed"), timeout: float = 30
) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = await engine.get_job(job_id)
        if job is not None and job.status in statuses:
            return job
        assert time.monotonic() < deadline, f"job {job_id} stuck at {job and job.status}"
        await asyncio.sleep(0.05)


async def test_create_recipe_end_to_end(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    job = Job(
        id=new_job_id("create", uuid.uuid4().hex), kind="create", prompt="make me pasta carbonara"
    )
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    assert done.page_id and done.page_url
    assert len(done.batches) == 2 and all(b.status == "completed" for b in done.batches)
    assert [c.tier for c in done.costs] == ["batch", "batch"] and done.cost_usd > 0
    assert len(openai_emu.state.batches) == 2
    assert openai_emu.state.files == {}


async def test_failed_batch_fails_the_job_without_a_page(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    openai_emu.faults.default_batch = BatchPlan(force="failed")
    job = Job(id=new_job_id("create"), kind="create", prompt="fish tacos")
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "failed"
    assert done.error is not None
    assert (done.error.step, done.error.type) == ("collect_results", "BatchFailedError")
    assert "Enqueued token limit reached" in done.error.message
    assert done.error.retryable
    assert notion_emu.pages() == []


async def test_timeout_keeps_the_batch_ids_on_the_job(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    from batchcook.workflows.runtime import runtime

    runtime().settings = service.model_copy(update={"poll_timeout": 0.2})
    openai_emu.faults.default_batch = BatchPlan.stuck("in_progress")
    job = Job(id=new_job_id("create"), kind="create", prompt="slow soup")
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "failed" and done.error is not None
    assert done.error.type == "BatchTimeoutError"
    for batch in done.batches:
        assert batch.id in done.error.message
        assert batch.status == "in_progress"
    assert notion_emu.pages() == []


async def test_modify_unknown_page_fails_clearly(
    service: Settings, openai_emu: OpenAIEmulator
) -> None:
    job = Job(id=new_job_id("modify"), kind="modify", prompt="more salt", page_id=str(uuid.uuid4()))
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "failed" and done.error is not None
    assert done.error.step == "read_recipe"
    assert openai_emu.calls == {}


async def test_same_job_id_twice_is_one_job(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    job = Job(id=new_job_id("create", uuid.uuid4().hex), kind="create", prompt="gnocchi")
    assert await engine.start_job(job) == await engine.start_job(job)
    assert (await wait_for(job.id)).status == "succeeded"
    assert len(openai_emu.state.batches) == 2 and len(notion_emu.pages()) == 1
