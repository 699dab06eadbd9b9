"""The durable workflows against both emulators, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from job_waits import wait_for

from batchcook.config import Settings
from batchcook.jobs import Job, new_job_id
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, HTTPFault, OpenAIEmulator
from batchcook.workflows import engine


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
    # No delete calls: every file (inputs, outputs, errors) expires by itself.
    assert openai_emu.state.files and all(
        f.expires_at is not None for f in openai_emu.state.files.values()
    )


async def test_failed_batch_fails_the_job_without_a_page(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    openai_emu.faults.default_batch = BatchPlan(force="failed")
    job = Job(id=new_job_id("create"), kind="create", prompt="fish tacos")
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "failed"
    assert done.error is not None
    assert (done.error.step, done.error.type) == ("interpret_results", "BatchFailedError")
    assert len(openai_emu.state.batches) == 2 * (1 + service.max_retries)  # retryable code
    assert "Enqueued token limit reached" in done.error.message
    assert done.error.retryable
    assert notion_emu.pages() == []


def _tune(service: Settings, **changes: object) -> None:
    from batchcook.workflows.runtime import runtime

    runtime().settings = service.model_copy(update=changes)


async def test_timeout_fail_cancels_and_keeps_the_ids(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    _tune(service, poll_timeout=0.2, on_timeout="fail")
    openai_emu.faults.default_batch = BatchPlan.stuck("in_progress")
    job = Job(id=new_job_id("create"), kind="create", prompt="slow soup")
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "failed" and done.error is not None
    assert done.error.type == "BatchTimeoutError" and "batch timeout" in done.error.message
    for batch in done.batches:
        assert batch.id in done.error.message
    assert {b.status for b in openai_emu.state.batches.values()} == {"cancelled"}
    assert notion_emu.pages() == []


async def test_continue_past_the_foreground_wait(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    _tune(service, poll_timeout=0.2, max_poll_interval=0.2)
    openai_emu.faults.default_batch = BatchPlan(in_progress=20 * 60)  # a 20-minute batch
    job = Job(id=new_job_id("create"), kind="create", prompt="slow braise")
    await engine.start_job(job)
    waiting = await wait_for(job.id, ("waiting",))
    deadline = time.monotonic() + 10
    while not (waiting.batches and all(b.status == "in_progress" for b in waiting.batches)):
        assert time.monotonic() < deadline, waiting.batches  # the record follows the batches
        await asyncio.sleep(0.05)
        waiting = await engine.get_job(job.id) or waiting
    assert waiting.page_id is not None and waiting.page_url
    placeholder = notion_emu.render_text(waiting.page_id)
    assert "Slow braise" in placeholder and "Status: Generating" in placeholder
    assert all(b.id in placeholder for b in waiting.batches)
    openai_emu.advance(20 * 60)
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    assert len(openai_emu.state.batches) == 2 and len(notion_emu.pages()) == 1
    assert done.page_id == waiting.page_id
    page = notion_emu.render_text(done.page_id)
    assert "Status: Ready" in page and "Ingredients:" in page and "Cover:" in page
    assert "is ready" in page


async def test_continue_then_failure_marks_the_placeholder(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    _tune(service, poll_timeout=0.2, max_poll_interval=0.2, max_retries=0)
    openai_emu.faults.default_batch = BatchPlan(in_progress=20 * 60, force="expired", finished=0)
    job = Job(id=new_job_id("create"), kind="create", prompt="doomed souffle")
    await engine.start_job(job)
    waiting = await wait_for(job.id, ("waiting",))
    openai_emu.advance(20 * 60)
    done = await wait_for(job.id)
    assert done.status == "failed" and done.page_id == waiting.page_id
    page = notion_emu.render_text(done.page_id)  # type: ignore[arg-type]
    assert "Status: Failed" in page and "Recipe generation failed" in page


async def test_fallback_generates_the_rest_at_standard_price(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    _tune(service, poll_timeout=0.2, on_timeout="fallback")
    openai_emu.faults.next_batch(BatchPlan.stuck("in_progress"), endpoint="/v1/images/generations")
    job = Job(id=new_job_id("create"), kind="create", prompt="quick salad")
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    assert [c.tier for c in done.costs] == ["batch", "standard"]
    image_batch = next(
        b for b in openai_emu.state.batches.values() if b.endpoint == "/v1/images/generations"
    )
    assert image_batch.status in ("cancelling", "cancelled")
    assert openai_emu.calls["/v1/images/generations"] == 1


async def test_failed_line_is_resubmitted_alone(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    job = Job(id=new_job_id("create"), kind="create", prompt="dumplings")
    openai_emu.faults.next_batch(
        BatchPlan(fail_lines={f"{job.id}-image"}), endpoint="/v1/images/generations"
    )
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    endpoints = sorted(b.endpoint for b in openai_emu.state.batches.values())
    assert endpoints == ["/v1/images/generations"] * 2 + ["/v1/responses"]
    assert sorted(b.attempt for b in done.batches) == [0, 0, 1]
    assert len(notion_emu.pages()) == 1


async def test_expired_remainder_is_resubmitted(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    openai_emu.faults.next_batch(BatchPlan(force="expired", finished=0), endpoint="/v1/responses")
    job = Job(id=new_job_id("create"), kind="create", prompt="tamales")
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    endpoints = sorted(b.endpoint for b in openai_emu.state.batches.values())
    assert endpoints == ["/v1/images/generations", "/v1/responses", "/v1/responses"]


async def test_a_400_is_not_retried(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    _tune(service, max_output_tokens=300)  # the recipe cannot fit: incomplete, every time
    job = Job(id=new_job_id("create"), kind="create", prompt="paella")
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "failed" and done.error is not None
    assert done.error.type == "IncompleteResponseError"
    assert len(openai_emu.state.batches) == 2
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


async def test_modify_keeps_a_sensible_title_and_the_record_follows_it(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """`#modify make it vegan` through the whole service: the emulator reads the recipe
    embedded in the modification prompt and changes it (not a title-cased prompt), and the
    job record names the recipe as it now is."""
    create = Job(id=new_job_id("create"), kind="create", prompt="make me pasta carbonara")
    await engine.start_job(create)
    made = await wait_for(create.id)
    assert made.status == "succeeded" and made.page_id, made.error
    assert made.title == "Pasta Carbonara"

    job = Job(id=new_job_id("modify"), kind="modify", prompt="make it vegan", page_id=made.page_id)
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    assert done.title == "Vegan Pasta Carbonara"
    page = notion_emu.render_text(made.page_id)
    assert page.startswith("# Vegan Pasta Carbonara\n")
    assert "Smoked tofu" in page and "Guanciale" not in page
    assert "Here Is An Existing Recipe" not in page


async def test_same_job_id_twice_is_one_job(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    job = Job(id=new_job_id("create", uuid.uuid4().hex), kind="create", prompt="gnocchi")
    assert await engine.start_job(job) == await engine.start_job(job)
    assert (await wait_for(job.id)).status == "succeeded"
    assert len(openai_emu.state.batches) == 2 and len(notion_emu.pages()) == 1


def _owner(openai_emu: OpenAIEmulator, job: Job) -> str:
    """The collector round following the job's batches (their ``batchcook_job``)."""
    (owner,) = {openai_emu.state.batches[b.id].metadata["batchcook_job"] for b in job.batches}
    return str(owner)


async def test_sweep_cancels_orphans_wakes_jobs_and_cleans_up(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    from openai import AsyncOpenAI

    from batchcook.generation.batch import BatchRequest, BatchRunner
    from batchcook.generation.batch.facts import INSTALL_METADATA
    from batchcook.workflows.install import install_id
    from batchcook.workflows.sweep import sweep_once

    # An orphan: a batch with our metadata whose job was lost before it recorded it. And two
    # look-alikes that are not ours to touch: another install's on the same OpenAI project,
    # and one made before install ids existed.
    request = BatchRequest("x-data", "/v1/responses", {"model": "gpt-5.6-luna", "input": "x"})
    others = []
    async with AsyncOpenAI(api_key="k", base_url=service.openai_base_url) as client:
        for install in (install_id(service), "bc-someone-else", None):
            openai_emu.faults.next_batch(BatchPlan(in_progress=3600))
            meta = {"batchcook_job": "create-lost-" + uuid.uuid4().hex}
            if install:
                meta[INSTALL_METADATA] = install
            (batch,) = await BatchRunner(client).submit([request], meta)
            others.append(batch)
    orphan, foreign, legacy = others
    # A job on a long batch, its round's follower sleeping 30 s between polls.
    _tune(service, poll_interval=30, poll_timeout=3600, delete_files=True)
    openai_emu.faults.default_batch = BatchPlan(in_progress=600)
    job = Job(id=new_job_id("create"), kind="create", prompt="stew")
    await engine.start_job(job)
    generating = await wait_for(job.id, ("generating",))
    follower = _owner(openai_emu, generating)
    openai_emu.advance(600)
    result = await sweep_once()
    assert result["cancelled"] == [orphan.id]
    assert openai_emu.state.batches[orphan.id].status in ("cancelling", "cancelled")
    assert result["woken"] == [follower]
    done = await wait_for(job.id, timeout=10)  # woken long before its 30 s sleep ends
    assert done.status == "succeeded", done.error
    leftovers = {f.id for f in openai_emu.state.files.values() if f.purpose == "batch"}
    assert leftovers == {b.input_file_id for b in others}
    openai_emu.advance(600)
    result = await sweep_once()
    assert result["cancelled"] == [] and result["deleted"] >= 1
    leftovers = {f.id for f in openai_emu.state.files.values() if f.purpose == "batch"}
    assert leftovers == {foreign.input_file_id, legacy.input_file_id}
    openai_emu.advance(3600)  # the look-alikes complete: still not ours to clean up
    result = await sweep_once()
    assert result["cancelled"] == [] and result["deleted"] == 0
    for batch in (foreign, legacy):
        assert openai_emu.state.batches[batch.id].status == "completed"
        assert batch.input_file_id in openai_emu.state.files


async def test_passing_faults_are_waited_out_without_paying_twice(
    service: Settings,
    openai_emu: OpenAIEmulator,
    notion_emu: NotionEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """429s on batch create, 500s and cut-off bodies on download: the steps run again after
    durable pauses (short here) and the job succeeds with one completed batch per part."""
    _tune(service, step_pauses=(0.05, 0.05, 0.05))
    faults = openai_emu.faults
    faults.http(status=429, method="POST", path="/v1/batches", times=6, retry_after=0.01)
    faults.http(status=500, method="GET", path="/v1/files/", times=5)
    faults.http(HTTPFault(kind="truncate", method="GET", path="/v1/files/", times=2))
    job = Job(id=new_job_id("create"), kind="create", prompt="lamb tagine")
    await engine.start_job(job)
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    completed = [b for b in openai_emu.state.batches.values() if b.status == "completed"]
    assert sorted(b.endpoint for b in completed) == ["/v1/images/generations", "/v1/responses"]
    assert len(notion_emu.pages()) == 1


async def test_results_that_cannot_be_downloaded_yet_are_kept_until_they_are(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """Downloads keep failing (500s): nothing paid for is given up — the job waits, the
    sweep deletes nothing, and once downloads work the results are stored and filed."""
    from batchcook.workflows.sweep import sweep_once

    _tune(service, step_pauses=(0.05,), max_poll_interval=0.2, delete_files=True)
    fault = openai_emu.faults.http(status=500, method="GET", path="/v1/files/", times=1000)
    job = Job(id=new_job_id("create"), kind="create", prompt="onion soup")
    await engine.start_job(job)
    deadline = time.monotonic() + 30
    while fault.times > 1000 - 12:  # several download rounds
        assert time.monotonic() < deadline, "the follower stopped trying to download"
        await asyncio.sleep(0.05)
    waiting = await engine.get_job(job.id)
    assert waiting is not None and waiting.status == "generating"
    outputs = {b.output_file_id for b in openai_emu.state.batches.values()}
    assert len(outputs) == 2 and None not in outputs
    result = await sweep_once()
    assert result["deleted"] == 0  # what was paid for stays until it is stored
    assert outputs <= set(openai_emu.state.files)
    openai_emu.faults.clear()
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    assert len(notion_emu.pages()) == 1


async def test_a_second_batch_for_a_part_is_cancelled_before_it_runs(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """A round's submit step that crashed with a create in flight: the create commits after
    the re-run made its own batch. The sweep cancels the one the round does not follow, so
    one batch per slice of parts runs to completion (one is paid)."""
    from openai import AsyncOpenAI

    from batchcook.generation.batch import BatchRequest, BatchRunner
    from batchcook.generation.batch.facts import INSTALL_METADATA
    from batchcook.workflows.install import install_id
    from batchcook.workflows.sweep import sweep_once

    _tune(service, poll_interval=30, poll_timeout=3600)
    openai_emu.faults.default_batch = BatchPlan(in_progress=600)
    job = Job(id=new_job_id("create"), kind="create", prompt="bouillabaisse")
    await engine.start_job(job)
    waiting = await wait_for(job.id, ("generating",))
    followed = {b.id for b in waiting.batches}
    image = next(b for b in waiting.batches if b.endpoint == "/v1/images/generations")
    late = BatchRequest(
        f"{job.id}-image", "/v1/images/generations", {"model": "gpt-image-2", "prompt": "fish"}
    )
    meta = dict(openai_emu.state.batches[image.id].metadata)  # the same round, the same slice
    assert meta[INSTALL_METADATA] == install_id(service) and meta["batchcook_group"]
    async with AsyncOpenAI(api_key="k", base_url=service.openai_base_url) as client:
        (in_flight,) = await BatchRunner(client).submit([late], meta)
    result = await sweep_once()
    assert result["cancelled"] == [in_flight.id]
    openai_emu.advance(600)
    assert (await sweep_once())["woken"] == [meta["batchcook_job"]]  # not its 30 s poll
    done = await wait_for(job.id)
    assert done.status == "succeeded", done.error
    completed = [b for b in openai_emu.state.batches.values() if b.status == "completed"]
    assert {b.id for b in completed} == followed


async def test_retry_after_a_failed_page_write_pays_nothing_again(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    notion_emu.faults.add("POST", "^/v1/pages$", status=400)
    job = Job(id=new_job_id("create"), kind="create", prompt="pad thai")
    await engine.start_job(job)
    failed = await wait_for(job.id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.step == "write_recipe" and failed.cost_usd > 0
    retried = await engine.retry_job(job.id)
    assert retried is not None and retried.retry_of == job.id
    done = await wait_for(retried.id)
    assert done.status == "succeeded", done.error
    assert len(openai_emu.state.batches) == 2  # the first attempt's batches, nothing new
    assert done.costs == []  # paid by the first attempt, not counted twice
    assert len(notion_emu.pages()) == 1 and done.title == failed.title


async def test_retry_after_a_failed_image_generates_only_the_image(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    _tune(service, max_retries=0)
    job = Job(id=new_job_id("create"), kind="create", prompt="green curry")
    openai_emu.faults.next_batch(
        BatchPlan(fail_lines={f"{job.id}-image"}), endpoint="/v1/images/generations"
    )
    await engine.start_job(job)
    failed = await wait_for(job.id)
    assert failed.status == "failed", failed
    with pytest.raises(engine.NotRetryable):
        engine.new_attempt(failed.model_copy(update={"status": "succeeded"}))
    retried = await engine.retry_job(job.id)
    assert retried is not None
    done = await wait_for(retried.id)
    assert done.status == "succeeded", done.error
    endpoints = sorted(b.endpoint for b in openai_emu.state.batches.values())
    assert endpoints == ["/v1/images/generations", "/v1/images/generations", "/v1/responses"]
    assert [c.custom_id for c in done.costs] == [f"{retried.id}-image"]
    assert [b.endpoint for b in done.batches] == ["/v1/images/generations"]
