"""The two durable workflows: create a recipe, modify a recipe.

Only this module sequences side effects. Each side effect is a step (``steps.py``); the
body is replay-safe plain control flow. The job record is re-published (a DBOS event) at
every transition, so ``GET /api/jobs/{id}`` and ``batchcook jobs`` read it from any process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from dbos import DBOS

from batchcook.generation.batch.facts import TERMINAL
from batchcook.jobs import BatchState, Cost, Job, JobError, now
from batchcook.recipes.prompts import (
    SYSTEM_INSTRUCTIONS,
    image_prompt,
    modification_prompt,
    modified_image_prompt,
)
from batchcook.workflows import collector, intake, job_index, steps, watch
from batchcook.workflows.names import CREATE_RECIPE, JOB_EVENT, MODIFY_RECIPE
from batchcook.workflows.runtime import runtime

log = logging.getLogger(__name__)
WINDOW_SECONDS = 25 * 3600  # the 24 h completion window, plus time to finalize
WAKE_TOPIC = watch.WAKE_TOPIC


async def publish(job: Job) -> None:
    """The job index first, then the record: whoever sees a job's new status in its record
    (a client waiting on it, then scraping /metrics) finds the gauges counting it too."""
    job.updated_at = now()
    await _index(job)
    await DBOS.set_event_async(JOB_EVENT, job.model_dump(mode="json"))


_indexed: dict[str, str] = {}  # job id -> what this process last wrote to the job index


async def _index(job: Job) -> None:
    """The metrics' copy of the record, written when what the gauges count changed (most
    publishes only move a batch along). Not a step: a replay writes the same row again. Never
    a reason for the job to fail: the gauges read the record of a job missing here."""
    row = job_index.row(job)
    if _indexed.get(job.id) != row:
        try:
            await asyncio.to_thread(job_index.put, runtime().settings.database(), job, row)
            _indexed[job.id] = row
        except Exception as err:
            log.warning("job %s: could not index its record for /metrics: %s", job.id, err)
    if job.status in ("succeeded", "failed"):
        _indexed.pop(job.id, None)


async def fail(job: Job, error: dict[str, Any]) -> dict[str, Any]:
    job.status = "failed"
    job.error = JobError.model_validate(error)
    if job.kind == "create" and job.page_id:
        await steps.mark_failed(job.id, job.error.message, job.database_id)
    await steps.settle_spend(job.id, job.cost_usd)  # what was paid before failing
    job.finished_at = now()
    await publish(job)
    return job.model_dump(mode="json")


@DBOS.workflow(name=CREATE_RECIPE)
async def create_recipe(job_data: dict[str, Any]) -> dict[str, Any]:
    job = Job.model_validate(job_data)
    await intake.wait_while_busy(runtime().settings.api_priority_seconds)
    generated = await _generate(job, job.prompt, SYSTEM_INSTRUCTIONS, image_prompt(job.prompt))
    if "error" in generated:
        return await fail(job, generated["error"])
    job.title = generated["ok"]["recipe"].get("title")
    job.status = "writing"
    await publish(job)
    written = await _write(steps.write_recipe, job.id, generated["ok"], job.database_id)
    if "error" in written:
        return await fail(job, written["error"])
    return await _succeed(job, written["ok"], generated["ok"])


@DBOS.workflow(name=MODIFY_RECIPE)
async def modify_recipe(job_data: dict[str, Any]) -> dict[str, Any]:
    job = Job.model_validate(job_data)
    assert job.page_id is not None
    await intake.wait_while_busy(runtime().settings.api_priority_seconds)
    current = await _again(steps.read_recipe, job.page_id)
    if "error" in current:
        return await fail(job, current["error"])
    recipe = dict(current["ok"])
    recipe.pop("change_description", None)
    job.title = recipe.get("title")
    prompt = modification_prompt(json.dumps(recipe, ensure_ascii=False), job.prompt)
    picture = modified_image_prompt(str(recipe.get("title", "")), job.prompt)
    generated = await _generate(job, prompt, SYSTEM_INSTRUCTIONS, picture)
    if "error" in generated:
        return await fail(job, generated["error"])
    # The record names the recipe as it now is ("Vegan Pasta Carbonara"): until here it
    # showed the recipe being changed, so a listing reads right at every stage.
    job.title = generated["ok"]["recipe"].get("title") or job.title
    job.status = "writing"
    await publish(job)
    written = await _write(steps.update_recipe, job.page_id, generated["ok"])
    if "error" in written:
        return await fail(job, written["error"])
    return await _succeed(job, written["ok"], generated["ok"])


async def _write(step: Callable[..., Awaitable[dict[str, Any]]], *args: Any) -> dict[str, Any]:
    """Write the page, again after a durable pause if Notion was busy, failing or silent.
    Safe: the store finds the page an earlier try made by the job id (create), and an update
    writes the same content twice. What was paid for is never lost to a Notion hiccup."""
    return await _again(step, *args, when=("retryable", "transient"))


async def _again(
    step: Callable[..., Awaitable[dict[str, Any]]],
    *args: Any,
    when: tuple[str, ...] = ("transient",),
) -> dict[str, Any]:
    """Run ``step``; while it fails for a cause that passes (an error flagged with one of
    ``when``), run it again after durable pauses (BATCHCOOK_STEP_PAUSES). Only for steps safe to
    repeat: reads, downloads, and the submit step (a re-run finds the batches it made)."""
    for pause in (*runtime().settings.step_pauses, None):
        out = await step(*args)
        if "ok" in out or pause is None or not any(out["error"].get(k) for k in when):
            return out
        log.warning(
            "step %s failed for a passing cause; again in %.0f s: %s",
            out["error"].get("step"),
            pause,
            out["error"].get("message"),
        )
        await DBOS.sleep_async(pause)
    raise AssertionError("unreachable")


async def _succeed(job: Job, page: dict[str, str], generated: dict[str, Any]) -> dict[str, Any]:
    job.page_id, job.page_url = page["id"], page["url"]
    await steps.forget_parts(job.id)  # the results are on the page now
    await steps.settle_spend(job.id, job.cost_usd)
    job.status = "succeeded"
    job.finished_at = now()
    await publish(job)
    return job.model_dump(mode="json")


async def _generate(job: Job, prompt: str, instructions: str, picture: str) -> dict[str, Any]:
    """Generate every part of the job's plan: batch parts through the shared collector
    (failed lines retried alone, in a later round), the others by direct calls."""
    await publish(job)
    checked = await steps.check_models_step(job.mode, datetime.now(UTC).date().isoformat())
    if "error" in checked:
        return checked
    planned = await steps.plan_parts(job.id, prompt, instructions, picture, job.mode)
    if "error" in planned:
        return planned
    parts: list[dict[str, Any]] = planned["ok"]
    roles = {p["role"]: p["custom_id"] for p in parts}
    done: dict[str, dict[str, Any]] = {}  # custom_id -> {"ok", "retryable"}
    reused: set[str] = set()  # custom_ids an earlier attempt paid for (their cost is not ours)
    if job.retry_of:
        earlier = await steps.reuse_results(job.retry_of, job.id)
        if "error" in earlier:
            return earlier
        if earlier["ok"]["generated"]:
            return {"ok": {**earlier["ok"]["generated"], "costs": []}}
        reused = set(earlier["ok"]["reused"])
        done.update({cid: {"ok": True, "retryable": False} for cid in reused})

    settings = runtime().settings
    pending = [p for p in parts if p["tier"] == "batch" and p["custom_id"] not in done]
    enqueued = await _hand_over(job, pending, 0) if pending else {"ok": 0.0}
    if "error" in enqueued:
        return enqueued
    direct = [p for p in parts if p["tier"] != "batch" and p["custom_id"] not in done]
    if direct:  # called while the batch parts wait for their round (flex: text now, image batched)
        job.status = "generating"
        await publish(job)
        called = await steps.call_parts(job.id, direct, 0)
        if "error" in called:
            return called
        done.update(called["ok"])

    for attempt in range(settings.max_retries + 1 if pending else 0):
        if attempt > 0:
            enqueued = await _hand_over(job, pending, attempt)
            if "error" in enqueued:
                return enqueued
        waited = await _batched(job, pending, attempt, enqueued["ok"])
        if "error" in waited:
            return waited
        if waited.get("fallback"):
            # Unfinished parts now come from the standard API (full price, shown in costs).
            missing = [p for p in pending if p["custom_id"] in waited["fallback"]]
            called = await steps.call_parts(job.id, missing, attempt + 1)
            if "error" in called:
                return called
            waited["outcomes"].update(called["ok"])
        outcomes: dict[str, dict[str, Any]] = waited["outcomes"]
        for cid, outcome in outcomes.items():
            if outcome["ok"] or not done.get(cid, {}).get("ok"):
                done[cid] = outcome
        retry = [
            p
            for p in pending
            if not done.get(p["custom_id"], {}).get("ok")
            and done.get(p["custom_id"], {}).get("retryable")
        ]
        failed_for_good = any(not r["ok"] and not r.get("retryable") for r in done.values())
        if not retry or failed_for_good or attempt == settings.max_retries:
            break
        pending = retry  # resubmit only what failed; what was paid for is kept

    out = await _again(steps.interpret_results, job.id, roles)
    if "ok" in out:
        out["ok"]["costs"] = [c for c in out["ok"]["costs"] if c["custom_id"] not in reused]
        job.costs = [Cost.model_validate(c) for c in out["ok"]["costs"]]
    return out


def placeholder_title(prompt: str) -> str:
    words = prompt.strip().split()
    return " ".join(words)[:100].capitalize() or "Recipe"


async def _hand_over(job: Job, pending: list[dict[str, Any]], attempt: int) -> dict[str, Any]:
    """Write ``pending`` as ``attempt`` and join a collector round; ``ok``: when."""
    enqueued = await _again(steps.enqueue_parts, job.id, pending, attempt)
    if "error" in enqueued:
        return enqueued
    settings = runtime().settings
    await collector.join(settings.batch_window, settings.batch_window_max)
    if job.status in ("queued", "generating"):
        job.status = "submitted"
        await publish(job)
    return enqueued


async def _batched(
    job: Job, pending: list[dict[str, Any]], attempt: int, started: float
) -> dict[str, Any]:
    """Sleep until each of ``pending`` (handed over as ``attempt`` at ``started``) has a
    result: ``{"outcomes": {custom_id: {"ok", "retryable"}}}``, plus ``"fallback"`` (custom
    ids given up for the standard API) — or an error."""
    waited = await _wait_for_parts(job, [p["custom_id"] for p in pending], attempt, started)
    if "error" in waited:
        return waited
    outcomes = await _again(steps.part_outcomes, job.id, attempt)
    if "error" in outcomes:
        return outcomes
    return {**waited, "outcomes": outcomes["ok"]}


async def _wait_for_parts(
    job: Job, custom_ids: list[str], attempt: int, started: float
) -> dict[str, Any]:
    """Sleep until the collector has stored a result for each part (it wakes the job as its
    batches move and end; the job also wakes by itself as a safety net). Nothing here calls
    OpenAI. Past the foreground wait, BATCHCOOK_ON_TIMEOUT decides: ``continue`` (wait on,
    up to the 24 h window), ``fallback`` (give the parts up, generate them at standard price)
    or ``fail`` (give them up and fail). A batch no other job needs is cancelled."""
    settings = runtime().settings
    foreground = True
    wanted = set(custom_ids)
    rejoined, unclaimed = started, True
    submitted: float | None = None  # the foreground wait counts from when all are in batches
    while True:
        sleep = settings.max_poll_interval
        if foreground and submitted is not None:
            sleep = min(sleep, max(settings.poll_timeout - (time.time() - submitted), 0.0))
        if unclaimed:  # look again soon after the round should have claimed them
            sleep = min(sleep, settings.batch_window + max(settings.poll_interval, 1.0))
        await DBOS.recv_async(WAKE_TOPIC, timeout_seconds=max(sleep, 0.01))
        viewed = await _again(steps.parts_view, job.id)
        if "error" in viewed:
            return viewed
        view = viewed["ok"]
        mine = [p for p in view["parts"] if p["attempt"] == attempt and p["custom_id"] in wanted]
        shown = (job.status, job.batches)
        known = {b.id: b for b in job.batches}
        job.batches = [
            BatchState.model_validate(b).model_copy(
                update={"attempt": known[b["id"]].attempt if b["id"] in known else b["attempt"]}
            )
            for b in view["batches"]
        ]
        if job.batches and job.status in ("queued", "submitted"):
            job.status = "generating"
        if (job.status, job.batches) != shown:  # a write per change, not per wake
            await publish(job)
        if all(p["state"] == "done" for p in mine):
            return {}
        if submitted is None and all(p["batch_id"] or p["state"] == "done" for p in mine):
            submitted = view["at"]
        waited = view["at"] - (submitted or view["at"])
        unclaimed = any(p["state"] == "waiting" for p in mine)
        if unclaimed and view["at"] - rejoined > (
            settings.batch_window + max(settings.poll_interval, 1.0)
        ):
            # The round this job joined had closed already: gather a new one.
            rejoined = view["at"]
            await collector.join(settings.batch_window, settings.batch_window_max)
        unfinished = sorted({p["batch_id"] or p["custom_id"] for p in mine if p["state"] != "done"})
        states = {b.id: b.status for b in job.batches}
        timed_out = foreground and waited >= settings.poll_timeout
        if timed_out and settings.on_timeout != "continue":
            # Before giving parts up, a fresh look (the table may lag the follower by a
            # poll): a part whose batch has ended is being stored, not given up.
            open_ids = sorted({p["batch_id"] for p in mine if p["state"] != "done"} - {None})
            fresh = await collector.poll_round(open_ids, 0.0) if open_ids else {}
            states.update({b["id"]: b["status"] for b in fresh.get("ok", {}).get("batches", [])})
        routing = any(
            p["state"] != "done" and states.get(p["batch_id"] or "") in TERMINAL for p in mine
        )
        if timed_out and not routing:
            ids = ", ".join(f"{b} ({states.get(b, 'not yet submitted')})" for b in unfinished)
            if settings.on_timeout == "continue":
                foreground = False
                job.status = "waiting"
                if job.kind == "create" and not job.page_id:
                    # Show the recipe is coming: a page with the title and the batch ids.
                    placed = await steps.write_placeholder(
                        job.id,
                        placeholder_title(job.prompt),
                        [b.id for b in job.batches],
                        job.database_id,
                    )
                    if placed.get("ok"):
                        job.page_id, job.page_url = placed["ok"]["id"], placed["ok"]["url"]
                await publish(job)
            else:
                await collector.abandon_parts(job.id)
                if settings.on_timeout == "fallback":
                    return {"fallback": [p["custom_id"] for p in mine if p["state"] != "done"]}
                return {
                    "error": {
                        "step": "poll_batches",
                        "message": f"batch timeout after {settings.poll_timeout:.0f}s: {ids} "
                        "given up (BATCHCOOK_ON_TIMEOUT=fail)",
                        "type": "BatchTimeoutError",
                        "retryable": True,
                    }
                }
        if view["at"] - started > WINDOW_SECONDS:
            await collector.abandon_parts(job.id)
            return {
                "error": {
                    "step": "poll_batches",
                    "message": f"batches {', '.join(unfinished)} did not end within the 24 h "
                    "window",
                    "type": "BatchTimeoutError",
                    "retryable": True,
                }
            }
