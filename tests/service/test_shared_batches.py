"""Shared batches: many jobs' requests in one batch per endpoint, results routed by custom_id.

Against both emulators, on SQLite and on PostgreSQL, through the real workflows.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from dbos import DBOS
from job_waits import wait_all
from pydantic import SecretStr

from batchcook.config import Settings
from batchcook.generation.batch.facts import JOB_METADATA
from batchcook.jobs import Job, new_job_id
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator
from batchcook.workflows import collector, engine, marks, parts, sweep
from batchcook.workflows.runtime import runtime

IMAGES, RESPONSES = "/v1/images/generations", "/v1/responses"


def _tune(service: Settings, **changes: object) -> None:
    runtime().settings = service.model_copy(update=changes)


async def _start(prompts: list[str]) -> list[str]:
    ids = []
    for prompt in prompts:
        job = Job(id=new_job_id("create", uuid.uuid4().hex), kind="create", prompt=prompt)
        await engine.start_job(job)
        ids.append(job.id)
    return ids


async def test_jobs_in_one_window_share_one_batch_per_endpoint(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    _tune(service, batch_window=3.0)  # wide: the six jobs reach the round on a busy machine
    ids = await _start([f"soup number {i}" for i in range(6)])
    done = await wait_all(ids)
    assert all(j.status == "succeeded" for j in done), [j.error for j in done]
    batches = list(openai_emu.state.batches.values())
    assert sorted(b.endpoint for b in batches) == [IMAGES, RESPONSES]  # 2 batches, 12 lines
    assert all(b.counts["total"] == 6 for b in batches)
    shared = {b.id for b in batches}
    for job in done:  # each record shows the shared batches it rode in, and its own costs
        assert {b.id for b in job.batches} == shared
        assert sorted(c.custom_id for c in job.costs) == [f"{job.id}-data", f"{job.id}-image"]
    # Each job got its own recipe and picture: six pages, six titles, six covers.
    pages = notion_emu.pages()
    assert len(pages) == 6 and len({str(p.values["Name"]) for p in pages}) == 6
    # Results are deleted once each page is written: nothing left in the parts table.
    for job in done:
        assert (await parts.run(parts.view, service.database(), job.id))["parts"] == []
    # The request bodies never went into a checkpoint (those outlive the job), and their
    # plans-table rows went with the job's results.
    steps = await DBOS.list_workflow_steps_async(ids[0])
    planned = next(s["output"]["ok"] for s in steps if s["function_name"] == "plan_parts")
    assert planned and all("body" not in p for p in planned)
    engine_ = parts._engine(service.database())
    with engine_.begin() as conn:
        left = parts.plans.select().where(parts.plans.c.job_id.in_(ids))
        assert conn.execute(left).all() == []


async def _looks(openai_emu: OpenAIEmulator) -> list[float]:
    """What the one round that made this test's batches saw each time it asked how long no
    part had arrived (its follower's id is on the batches)."""
    (follower,) = {(b.metadata or {})[JOB_METADATA] for b in openai_emu.state.batches.values()}
    steps = await DBOS.list_workflow_steps_async(collector.round_of(follower))
    return [s["output"]["ok"]["quiet"] for s in steps if s["function_name"] == "quiet_for"]


async def test_a_burst_longer_than_the_window_forms_one_round(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """Jobs that arrive over longer than a window (several processes starting a burst on a
    busy machine) are not cut into one round per window: the round gathers on while parts
    keep arriving. Before, this made two or more batches per endpoint."""
    _tune(service, batch_window=1.5, batch_window_max=30.0)
    ids = []
    for i in range(12):  # 0.3 s apart: 3.6 s in all, each gap well inside the window
        ids += await _start([f"stew number {i}"])
        await asyncio.sleep(0.3)
    done = await wait_all(ids)
    assert all(j.status == "succeeded" for j in done), [j.error for j in done]
    batches = list(openai_emu.state.batches.values())
    assert sorted(b.endpoint for b in batches) == [IMAGES, RESPONSES], len(batches)
    looks = await _looks(openai_emu)
    assert looks and looks[0] < 1.5 <= looks[-1], looks  # it gathered past its first window


async def test_a_lone_job_s_round_closes_at_its_window(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    _tune(service, batch_window=0.5, batch_window_max=30.0)
    (done,) = await wait_all(await _start(["one lonely soup"]))
    assert done.status == "succeeded", done.error
    looks = await _looks(openai_emu)
    assert len(looks) == 1 and looks[0] >= 0.5, looks  # one look, no second window


async def test_a_line_that_fails_fails_only_its_own_job(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """Three recipe lines are refused by the model (a refusal is never retried) in a batch
    shared by twelve jobs: nine pages, three jobs failed with their line's own error,
    nothing resubmitted."""
    _tune(service, batch_window=3.0)
    too_long = "a poison soup"  # the emulator's model refuses this
    prompts = [f"stew number {i}" for i in range(9)] + [too_long] * 3
    ids = await _start(prompts)
    done = await wait_all(ids, timeout=90)
    ok = [j for j in done if j.status == "succeeded"]
    failed = [j for j in done if j.status == "failed"]
    assert len(ok) == 9 and len(failed) == 3, [j.error for j in failed]
    assert {j.prompt for j in failed} == {too_long}
    for job in failed:
        assert job.error is not None and not job.error.retryable
        assert job.error.type == "RefusalError" and f"{job.id}-data" in job.error.message
    lines = [
        json.loads(line)["custom_id"]
        for b in openai_emu.state.batches.values()
        for line in openai_emu.state.files[b.input_file_id].data.splitlines()
    ]
    assert sorted(lines) == sorted({*lines}) and len(lines) == 24  # nothing resubmitted
    assert len(openai_emu.state.batches) < 24  # shared
    assert len(notion_emu.pages()) == 9


async def test_a_part_left_waiting_rides_the_next_round(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """A part written while no round would claim it (a crash between writing it and
    joining) is not stranded: the next round takes every waiting part."""
    _tune(service, batch_window=0.2, poll_interval=0.05)
    url = service.database()
    job = Job(id=new_job_id("create"), kind="create", prompt="lonely soup")
    planned = [
        {
            "role": "recipe",
            "custom_id": "stray-data",
            "endpoint": RESPONSES,
            "model": service.text_model,
            "tier": "batch",
            "body": {"model": service.text_model, "input": "x"},
        }
    ]
    await parts.run(parts.enqueue, url, "stray-job", planned, 0)  # nobody joined for it
    await engine.start_job(job)
    (done,) = await wait_all([job.id])
    assert done.status == "succeeded", done.error
    view = await parts.run(parts.view, url, "stray-job")
    assert [p["state"] for p in view["parts"]] in (["submitted"], ["done"])  # swept along


async def test_a_cancelled_job_does_not_cancel_a_batch_another_job_needs(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    _tune(service, batch_window=0.5)
    openai_emu.faults.default_batch = BatchPlan(in_progress=600)
    keep, drop = await _start(["bean chili", "corn chowder"])
    deadline = time.monotonic() + 30
    while len({b.id for j in [await engine.get_job(keep)] for b in (j.batches if j else [])}) < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    cancelled = await engine.cancel_job(drop)
    assert cancelled is not None
    live = {b.status for b in openai_emu.state.batches.values()}
    assert live <= {"validating", "in_progress"}, live  # not cancelled: keep needs them
    openai_emu.advance(600)
    (done,) = await wait_all([keep])
    assert done.status == "succeeded", done.error
    status = await DBOS.get_workflow_status_async(drop)
    assert status is not None and status.status == "CANCELLED"
    assert len(notion_emu.pages()) == 1


async def _recorded_batch(url: str) -> dict[str, Any]:
    """A round's batch in the batches table, as its follower records it after the create."""
    batch: dict[str, Any] = {
        "id": f"batch_{uuid.uuid4().hex}",
        "endpoint": RESPONSES,
        "model": "m",
        "input_file_id": "file-x",
        "custom_ids": ["x"],
        "group": uuid.uuid4().hex,
    }
    await parts.run(parts.record_batch, url, "round-x", batch, [])
    return batch


async def test_the_sweep_lists_only_when_a_follower_stopped_reading(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """The followers read every live batch already; a minute's sweep lists OpenAI again only
    when one of them has gone quiet (its process died)."""
    url = service.database()
    batch = await _recorded_batch(url)
    with parts._engine(url).begin() as conn:  # made ten minutes ago, never read since
        conn.execute(
            parts.batches.update()
            .where(parts.batches.c.id == batch["id"])
            .values(created_at=time.time() - 600)
        )
    assert not await parts.run(parts.followed, url, 60, [batch["id"]])
    await parts.run(
        parts.update_batches,
        url,
        [{"id": batch["id"], "status": "in_progress", "completed": 0, "failed": 0, "total": 1}],
    )
    assert await parts.run(parts.followed, url, 60, [batch["id"]])
    await parts.run(parts.finish_batch, url, batch["id"])  # routed: nobody needs to read it
    with parts._engine(url).begin() as conn:
        conn.execute(
            parts.batches.update()
            .where(parts.batches.c.id == batch["id"])
            .values(polled_at=time.time() - 600)
        )
    assert await parts.run(parts.followed, url, 60, [batch["id"]])


async def test_a_follower_waiting_on_webhooks_is_not_taken_for_dead(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """With OpenAI webhooks a follower reads its batches only every
    BATCHCOOK_WEBHOOK_POLL_INTERVAL (30 min); quiet for 20 minutes it is alive, and the
    sweep does not list for it. Without webhooks the same silence means it died."""
    url = service.database()
    batch = await _recorded_batch(url)
    with parts._engine(url).begin() as conn:  # made and last read twenty minutes ago
        conn.execute(
            parts.batches.update()
            .where(parts.batches.c.id == batch["id"])
            .values(created_at=time.time() - 1200, polled_at=time.time() - 1200)
        )
    defaults = {"max_poll_interval": 300.0, "webhook_poll_interval": 1800.0}
    runtime().settings = service.model_copy(update=defaults)
    assert (await sweep.followers_alive())["ok"] is False
    runtime().settings = service.model_copy(
        update={**defaults, "openai_webhook_secret": SecretStr("whsec_dGVzdA==")}
    )
    assert (await sweep.followers_alive())["ok"] is True


async def test_a_submit_run_again_makes_no_second_batch_and_the_sweep_keeps_listing(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """A round's submit step that ran again after a crash finds its batch by metadata and
    makes none; and because the dead run may have had a create in flight that lands later,
    every minute's sweep lists OpenAI for an hour (to cancel that surplus), even while the
    followers are alive."""
    url = service.database()
    planned = [
        {
            "role": "recipe",
            "custom_id": "rerun-data",
            "endpoint": RESPONSES,
            "model": service.text_model,
            "tier": "batch",
            "body": {"model": service.text_model, "input": "x"},
        }
    ]
    await parts.run(parts.enqueue, url, "rerun-job", planned, 0)
    round_id = f"round-{uuid.uuid4().hex}"
    assert await parts.run(parts.claim, url, round_id) == 1
    me = collector.follower_id(round_id)
    assert (await sweep.followers_alive())["ok"] is True  # nothing to list for
    first = await collector.submit_round(me, round_id)
    again = await collector.submit_round(me, round_id)  # its checkpoint was lost
    assert [b["id"] for b in again["ok"]["batches"]] == [b["id"] for b in first["ok"]["batches"]]
    assert len(openai_emu.state.batches) == 1
    assert (await sweep.followers_alive())["ok"] is False  # the sweep lists this minute
    with marks._engine(url).begin() as conn:  # an hour and more later
        conn.execute(marks.marks.update().values(created_at=time.time() - 3700))
    assert (await sweep.followers_alive())["ok"] is True


async def test_flex_text_now_and_its_image_in_a_shared_batch(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """Flex: the recipe by a direct flex call, the image as a batch part like any other
    (followed, routed and stored by the collector, not inside one step)."""
    _tune(service, batch_window=0.3, mode="flex")
    flex = Job(id=new_job_id("create"), kind="create", prompt="flex ramen", mode="flex")
    plain = Job(id=new_job_id("create"), kind="create", prompt="batch udon")
    for job in (flex, plain):
        await engine.start_job(job)
    done = {j.id: j for j in await wait_all([flex.id, plain.id])}
    assert all(j.status == "succeeded" for j in done.values()), [j.error for j in done.values()]
    assert [c.tier for c in done[flex.id].costs] == ["flex", "batch"]
    images = [b for b in openai_emu.state.batches.values() if b.endpoint == IMAGES]
    assert len(images) == 1 and images[0].counts["total"] == 2  # both jobs' images, one batch
    assert openai_emu.calls["/v1/responses"] == 1  # the flex recipe, called directly
    (image,) = [b for b in done[flex.id].batches]
    assert image.id == images[0].id


async def test_a_retry_batch_is_not_taken_for_a_surplus(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """A failed line is resubmitted under its own custom id, in a later round: for one job
    the retry's slice is the first batch's, so both carry the same ``batchcook_group``. The
    sweep must not take the retry batch for a second batch of that slice (only a re-run of
    the same round's submit makes those) and cancel it (it did: the job then failed, its
    line cancelled at every retry)."""
    from batchcook.workflows.sweep import sweep_once

    _tune(service, batch_window=0.2, poll_interval=0.05)
    job = Job(id=new_job_id("create", uuid.uuid4().hex), kind="create", prompt="one dumpling")
    openai_emu.faults.next_batch(BatchPlan(fail_lines={f"{job.id}-image"}), endpoint=IMAGES)
    openai_emu.faults.next_batch(BatchPlan(in_progress=600), endpoint=IMAGES)  # the retry
    await engine.start_job(job)
    deadline = time.monotonic() + 30
    while sum(b.endpoint == IMAGES for b in openai_emu.state.batches.values()) < 2:
        assert time.monotonic() < deadline, "the failed line was not resubmitted"
        await asyncio.sleep(0.05)
    first, retry = sorted(
        (b for b in openai_emu.state.batches.values() if b.endpoint == IMAGES),
        key=lambda b: b.created_at,
    )
    assert first.metadata and retry.metadata
    assert first.metadata["batchcook_group"] == retry.metadata["batchcook_group"]
    swept = await sweep_once(full=True)
    assert retry.id not in swept.get("cancelled", []), swept
    openai_emu.advance(600)
    (done,) = await wait_all([job.id])
    assert done.status == "succeeded", done.error
    assert openai_emu.state.batches[retry.id].status == "completed"
    assert len(notion_emu.pages()) == 1
