"""The durable workflows against both emulators, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid

from batchcook.config import Settings
from batchcook.jobs import Job, new_job_id
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import OpenAIEmulator
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
