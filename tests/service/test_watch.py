"""The batch watch: jobs waiting together share one poll, and sleep until something changes."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable

import pytest
from dbos import DBOS
from job_waits import wait_for

from batchcook.config import Settings
from batchcook.jobs import Job, new_job_id
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator
from batchcook.testing.polling import poll_async
from batchcook.workflows import collector, engine, parts, watch
from batchcook.workflows.runtime import runtime


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    await poll_async(condition, "the watch's condition", timeout, interval=0.02)


def batch_calls(emu: OpenAIEmulator) -> int:
    return sum(n for path, n in emu.calls.items() if path.startswith("/v1/batches"))


async def test_waiting_jobs_share_one_poll_and_sleep_until_a_change(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    runtime().settings = service.model_copy(update={"poll_interval": 0.05, "poll_timeout": 3600})
    openai_emu.faults.default_batch = BatchPlan(in_progress=20 * 60)
    jobs = [Job(id=new_job_id("create"), kind="create", prompt=f"slow stew {i}") for i in range(10)]
    for job in jobs:
        await engine.start_job(job)
    w = watch.current()
    await until(lambda: len(openai_emu.state.batches) >= 2)
    await until(
        lambda: (
            sum(b.counts.get("total", 0) for b in openai_emu.state.batches.values())
            == 2 * len(jobs)
        )
    )  # every part in a shared batch
    owners = {b.metadata["batchcook_job"] for b in openai_emu.state.batches.values()}
    await until(lambda: w.watching() == len(owners))  # one watch entry per round, jobs asleep

    rounds, calls = w.rounds, batch_calls(openai_emu)
    await until(lambda: w.rounds >= rounds + 20)
    rounds, calls = w.rounds - rounds, batch_calls(openai_emu) - calls
    # One list page a round covers all 20 batches (a sweep may add one); a job polling its
    # own would have cost 20 retrieves a round.
    assert calls <= rounds + 2, (calls, rounds)

    openai_emu.advance(20 * 60)
    for job in jobs:
        done = await wait_for(job.id)
        assert done.status == "succeeded", done.error
        steps = await DBOS.list_workflow_steps_async(job.id)
        looks = [s for s in steps if s["function_name"] == "parts_view"]
        # Woken only by changes, not once per round: submitted, in progress, each batch's
        # end — a read of the parts table each, never a call to OpenAI.
        assert len(looks) <= 8, len(looks)
    assert w.watching() == 0
    assert len(notion_emu.pages()) == len(jobs)


async def test_a_long_batch_is_polled_at_the_backed_off_interval_after_self_wakes(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """Past the foreground a round's follower sleeps up to max_poll_interval and then looks
    again by itself. That wake used to register its watch afresh, from the follower's own
    short interval: the watch's backoff started over every max_poll_interval."""
    top = 1.0  # the follower's own interval needs ten of its wakes to reach it
    runtime().settings = service.model_copy(
        update={"poll_interval": 0.01, "poll_timeout": 0.2, "max_poll_interval": top}
    )
    openai_emu.faults.default_batch = BatchPlan(in_progress=24 * 3600)  # not advanced: runs
    job = Job(id=new_job_id("create"), kind="create", prompt="slow braise")
    await engine.start_job(job)
    await until(lambda: len(openai_emu.state.batches) == 2)
    (follower,) = {b.metadata["batchcook_job"] for b in openai_emu.state.batches.values()}
    w = watch.current()
    intervals: list[float] = []

    def backed_off() -> bool:
        now = w.interval(follower)
        if now is not None:
            intervals.append(now)
        return now == top

    await poll_async(backed_off, "the watch backing off to max_poll_interval", 30, 0.005)
    drops = [(a, b) for a, b in itertools.pairwise(intervals) if b < a]
    assert not drops, f"a wake started the backoff over: {drops[:3]}"

    async def self_wakes() -> int:
        steps = await DBOS.list_workflow_steps_async(follower)
        return sum(1 for s in steps if s["function_name"] == "poll_round")

    wakes, calls = await self_wakes(), batch_calls(openai_emu)

    async def three_more() -> bool:  # wakes of its own, max_poll_interval apart
        assert w.interval(follower) == top, "a wake started the backoff over"
        return await self_wakes() >= wakes + 3

    await poll_async(three_more, "three wakes of the follower's own", 30, interval=0.02)
    calls = batch_calls(openai_emu) - calls
    # One list page per max_poll_interval (one more if a wake and a look straddle the
    # start); a wake of its own reads the watch's copy.
    assert calls <= 3 + 1, calls
    assert w.interval(follower) == top


async def test_a_round_is_watched_before_its_jobs_hear_of_it(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """Telling a round's jobs of their batches is a durable message each (seconds for a few
    hundred); the foreground's polls count from the submit, so the watch starts first."""
    runtime().settings = service.model_copy(
        update={"poll_interval": 0.05, "poll_timeout": 3600, "batch_window": 0.5}
    )
    openai_emu.faults.default_batch = BatchPlan(in_progress=600)
    jobs = [Job(id=new_job_id("create"), kind="create", prompt=f"stew {i}") for i in range(40)]
    for job in jobs:
        await engine.start_job(job)
    w = watch.current()
    await until(lambda: len(openai_emu.state.batches) == 2)
    (follower,) = {b.metadata["batchcook_job"] for b in openai_emu.state.batches.values()}

    async def first_told() -> bool:
        steps = await DBOS.list_workflow_steps_async(follower)
        return any(s["function_name"] == "DBOS.send" for s in steps)

    await poll_async(first_told, "the round telling its first job", 60, interval=0.005)
    told = "the jobs heard of their batches before the round watched them"
    assert w.interval(follower) is not None, told
    openai_emu.advance(600)
    for job in jobs:
        done = await wait_for(job.id)
        assert done.status == "succeeded", done.error


async def test_an_unknown_batch_fails_its_job_not_the_others(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    w = watch.current()
    w.watch("create-gone", {"batch_gone": ("in_progress", 0, 0)}, 0.05)
    runtime().settings = service.model_copy(update={"poll_interval": 0.05})
    openai_emu.faults.default_batch = BatchPlan(in_progress=60)
    job = Job(id=new_job_id("create"), kind="create", prompt="quick salad")
    await engine.start_job(job)
    await until(lambda: w.watching() == 2)
    openai_emu.advance(60)
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    try:
        await w.batches(["batch_gone"], max_age=0)
    except LookupError as err:
        assert "batch_gone" in str(err)
    else:
        raise AssertionError("an unknown batch must not read as a state")


async def test_submit_searches_for_its_batches_only_when_it_runs_again(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    from sqlalchemy import delete, update

    from batchcook.generation.plan import plan
    from batchcook.recipes.schema import Recipe
    from batchcook.workflows import collector, parts

    url, job_id = service.database(), new_job_id("create")
    planned = [
        p.as_dict() for p in plan(job_id, "stew", "Be brief.", "a stew", Recipe, service, "batch")
    ]
    await parts.run(parts.enqueue, url, job_id, planned, 0)
    round_id = f"round-{job_id}"
    assert await parts.run(parts.claim, url, round_id) == 2
    first = await collector.submit_round(f"{round_id}-follow", round_id)
    assert "ok" in first, first
    assert openai_emu.calls["/v1/batches"] == 2  # two creates, no search on a first run
    # The same step again, as after a crash after its creates but before it recorded them.
    with parts._engine(url).begin() as conn:
        conn.execute(
            update(parts.parts)
            .where(parts.parts.c.round_id == round_id)
            .values(state="claimed", batch_id=None)
        )
        conn.execute(delete(parts.batches).where(parts.batches.c.round_id == round_id))
    again = await collector.submit_round(f"{round_id}-follow", round_id)
    assert "ok" in again, again
    ids = sorted(b["id"] for b in again["ok"]["batches"])
    assert ids == sorted(b["id"] for b in first["ok"]["batches"])
    assert len(openai_emu.state.batches) == 2  # found by metadata, not paid for twice
    assert openai_emu.calls["/v1/batches"] == 4  # a list page to find them, one to check


async def test_a_regular_sweep_reaches_back_to_the_oldest_running_job(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    from batchcook.workflows.sweep import oldest_waiting_job, sweep_once

    runtime().settings = service.model_copy(update={"poll_interval": 30, "poll_timeout": 3600})
    openai_emu.faults.default_batch = BatchPlan(in_progress=600)
    job = Job(id=new_job_id("create"), kind="create", prompt="long stew")
    await engine.start_job(job)
    generating = await wait_for(job.id, ("generating",))
    (follower,) = {
        openai_emu.state.batches[b.id].metadata["batchcook_job"] for b in generating.batches
    }
    oldest = await oldest_waiting_job()  # this job, or an older one still running
    assert oldest["ok"] is not None and oldest["ok"] <= time.time()
    openai_emu.advance(600)
    result = await sweep_once(full=False)
    assert result["woken"] == [follower]  # the round following the job's batches
    done = await wait_for(job.id, timeout=10)  # long before its 30 s watch round
    assert done.status == "succeeded", done.error


async def test_a_lost_page_write_is_tried_again_without_a_second_page(
    service: Settings,
    openai_emu: OpenAIEmulator,
    notion_emu: NotionEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from batchcook.workflows.runtime import runtime

    runtime().settings = service.model_copy(update={"step_pauses": (0.05, 0.05, 0.05)})
    # Both of the store's tries to create the page answer 500; the second did create it.
    notion_emu.faults.add("POST", r"^/v1/pages$", status=500)
    notion_emu.faults.add("POST", r"^/v1/pages$", status=500, after_commit=True)
    job = Job(id=new_job_id("create"), kind="create", prompt="lost soup")
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    assert len(notion_emu.pages()) == 1  # the retry found the page the lost write made
    page = notion_emu.render_text(done.page_id or "")
    assert page.count("Ingredients:") == 1  # and its body once
    steps = await DBOS.list_workflow_steps_async(job.id)
    writes = [s for s in steps if s["function_name"] == "write_recipe"]
    assert len(writes) == 2 and writes[0]["output"]["error"]["type"] == "AmbiguousWriteError"


async def test_one_list_page_serves_every_process_watch(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """With several workers, rounds are followed in different processes. A watcher writes
    every batch its list page showed to the batches table, so another process's follower
    reads its own batch there instead of calling OpenAI."""
    url, tag = service.database(), uuid.uuid4().hex[:8]
    openai_emu.faults.default_batch = BatchPlan(in_progress=600)
    made = []
    async with runtime().openai() as client:
        for i in range(3):
            raw = json.dumps(
                {
                    "custom_id": f"{tag}-{i}",
                    "method": "POST",
                    "url": "/v1/responses",
                    "body": {"model": "gpt-5.6-luna", "input": "soup"},
                }
            )
            file = await client.files.create(file=("in.jsonl", raw.encode()), purpose="batch")
            batch = await client.batches.create(
                input_file_id=file.id, endpoint="/v1/responses", completion_window="24h"
            )
            made.append(batch.id)
            record = {
                "id": batch.id,
                "endpoint": "/v1/responses",
                "model": "gpt-5.6-luna",
                "input_file_id": file.id,
                "custom_ids": [f"{tag}-{i}"],
                "group": f"{tag}-{i}",
            }
            await parts.run(parts.record_batch, url, f"round-{tag}-{i}", record, [])
    *mine, theirs = made  # a round's two batches here, another round's elsewhere

    elsewhere = watch.Watch(lambda: runtime().openai()).start()  # another process's watcher
    try:
        await elsewhere.batches(mine, 0.0)  # one list page: it shows all three batches
        calls = batch_calls(openai_emu)
        polled = await collector.poll_round([theirs], 30.0)
        assert [b["status"] for b in polled["ok"]["batches"]] == ["in_progress"]
        assert batch_calls(openai_emu) == calls  # read from the table, no call

        openai_emu.advance(700)  # both end; the other process's next page shows it
        await elsewhere.batches(mine, 0.0)
        calls = batch_calls(openai_emu)
        polled = await collector.poll_round([theirs], 30.0)
        assert [b["status"] for b in polled["ok"]["batches"]] == ["completed"]
        assert batch_calls(openai_emu) == calls
        # Asked for a fresh look (a webhook, max_age 0), the follower calls OpenAI itself.
        await collector.poll_round([theirs], 0.0)
        assert batch_calls(openai_emu) == calls + 1
    finally:
        elsewhere.stop()
