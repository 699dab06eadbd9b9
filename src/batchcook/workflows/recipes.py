"""The two durable workflows: create a recipe, modify a recipe.

Only this module sequences side effects. Each side effect is a step (``steps.py``); the
body is replay-safe plain control flow. The job record is re-published (a DBOS event) at
every transition, so ``GET /api/jobs/{id}`` and ``batchcook jobs`` read it from any process.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from dbos import DBOS

from batchcook.jobs import BatchState, Cost, Job, JobError, now
from batchcook.recipes.prompts import (
    SYSTEM_INSTRUCTIONS,
    image_prompt,
    modification_prompt,
    modified_image_prompt,
)
from batchcook.workflows import steps, watch
from batchcook.workflows.runtime import runtime
from batchcook.workflows.watch import Seen

log = logging.getLogger(__name__)
JOB_EVENT = "job"
TERMINAL = {"completed", "failed", "expired", "cancelled"}
RESPONSES, IMAGES = "/v1/responses", "/v1/images/generations"
WINDOW_SECONDS = 25 * 3600  # the 24 h completion window, plus time to finalize
WAKE_TOPIC = watch.WAKE_TOPIC
PAUSES = (10.0, 60.0, 300.0)  # before the 2nd, 3rd and 4th try of a step that may repeat


async def publish(job: Job) -> None:
    job.updated_at = now()
    await DBOS.set_event_async(JOB_EVENT, job.model_dump(mode="json"))


async def fail(job: Job, error: dict[str, Any]) -> dict[str, Any]:
    job.status = "failed"
    job.error = JobError.model_validate(error)
    if job.kind == "create" and job.page_id:
        await steps.mark_failed(job.id, job.error.message, job.database_id)
    await steps.settle_spend(job.id, job.cost_usd)  # what was paid before failing
    job.finished_at = now()
    await publish(job)
    return job.model_dump(mode="json")


@DBOS.workflow(name="create_recipe")
async def create_recipe(job_data: dict[str, Any]) -> dict[str, Any]:
    job = Job.model_validate(job_data)
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


@DBOS.workflow(name="modify_recipe")
async def modify_recipe(job_data: dict[str, Any]) -> dict[str, Any]:
    job = Job.model_validate(job_data)
    assert job.page_id is not None
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
    ``when``), run it again after durable pauses (PAUSES). Only for steps that are safe to
    repeat: reads, downloads, and the submit step (a re-run finds the batches it made)."""
    for pause in (*PAUSES, None):
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
    if generated.get("submitted"):
        await steps.cleanup_files(generated["submitted"])  # a failure here only leaks files
    await steps.settle_spend(job.id, job.cost_usd)
    job.status = "succeeded"
    job.finished_at = now()
    await publish(job)
    return job.model_dump(mode="json")


async def _generate(job: Job, prompt: str, instructions: str, picture: str) -> dict[str, Any]:
    """Generate both parts: batches (retrying failed lines alone) or direct calls."""
    await publish(job)
    checked = await steps.check_models_step(job.mode, datetime.now(UTC).date().isoformat())
    if "error" in checked:
        return checked
    results: dict[str, dict[str, Any]] = {}  # custom_id -> encoded result, successes kept
    reused: set[str] = set()  # custom_ids an earlier attempt paid for (their cost is not ours)
    if job.retry_of:
        earlier = await steps.reuse_results(job.retry_of, job.id)
        if "error" in earlier:
            return earlier
        if earlier["ok"]["generated"]:
            return {"ok": {**earlier["ok"]["generated"], "costs": []}}
        results.update(earlier["ok"]["results"])
        reused = set(results)
    if job.mode != "batch":
        job.status = "generating"
        await publish(job)
        out = await steps.generate_direct(job.id, prompt, instructions, picture, job.mode)
        if "ok" in out:
            job.costs = [Cost.model_validate(c) for c in out["ok"]["costs"]]
        return out

    settings = runtime().settings
    parts = {RESPONSES: f"{job.id}-data", IMAGES: f"{job.id}-image"}
    endpoints = [e for e, cid in parts.items() if not results.get(cid, {}).get("ok")]
    all_submitted: list[dict[str, Any]] = []
    for attempt in range(settings.max_retries + 1 if endpoints else 0):
        submitted = await _again(
            steps.submit_batches,
            job.id,
            prompt,
            instructions,
            picture,
            endpoints,
            attempt,
            _epoch(job.created_at) - 60,
        )
        if "error" in submitted:
            return submitted
        batches: list[dict[str, Any]] = submitted["ok"]
        all_submitted.extend(batches)
        job.batches = [b for b in job.batches if b.id not in {x["id"] for x in batches}]
        job.batches += [
            BatchState(id=b["id"], endpoint=b["endpoint"], attempt=attempt) for b in batches
        ]
        if job.status in ("queued", "generating"):
            job.status = "submitted"
        await publish(job)

        waited = await _wait(job, [b["id"] for b in batches], batches[0]["submitted_at"])
        if "error" in waited:
            return waited
        collected = await _again(steps.collect_results, batches)
        if "error" in collected:
            return collected
        fresh: dict[str, dict[str, Any]] = collected["ok"]
        if waited.get("fallback"):
            # Unfinished parts now come from the standard API (full price, shown in costs).
            missing = [
                b["endpoint"] for b in batches if not fresh.get(b["custom_ids"][0], {}).get("ok")
            ]
            if missing:
                direct = await steps.generate_standard(
                    job.id, prompt, instructions, picture, missing
                )
                if "error" in direct:
                    return direct
                fresh.update(direct["ok"])
        for cid, result in fresh.items():
            if result["ok"] or not results.get(cid, {}).get("ok"):
                results[cid] = result
        retry = [
            b["endpoint"]
            for b in batches
            if not results.get(b["custom_ids"][0], {}).get("ok")
            and results.get(b["custom_ids"][0], {}).get("retryable")
        ]
        failed_for_good = any(not r["ok"] and not r.get("retryable") for r in results.values())
        if not retry or failed_for_good or attempt == settings.max_retries:
            break
        endpoints = retry  # resubmit only what failed; what was paid for is kept

    out = await steps.interpret_results(job.id, results)
    if "ok" in out:
        out["ok"]["costs"] = [c for c in out["ok"]["costs"] if c["custom_id"] not in reused]
        job.costs = [Cost.model_validate(c) for c in out["ok"]["costs"]]
        out["ok"]["submitted"] = all_submitted
    return out


def placeholder_title(prompt: str) -> str:
    words = prompt.strip().split()
    return " ".join(words)[:100].capitalize() or "Recipe"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def _wait(job: Job, batch_ids: list[str], started: float) -> dict[str, Any]:
    try:
        return await _wait_for_batches(job, batch_ids, started)
    finally:
        watch.current().unwatch(job.id)


async def _wait_for_batches(job: Job, batch_ids: list[str], started: float) -> dict[str, Any]:
    """Sleep until the batches end, woken by this process's batch watch (which polls every
    ``poll_interval`` for all jobs together), the sweep or an OpenAI webhook. Past the
    foreground wait, BATCHCOOK_ON_TIMEOUT decides: ``continue`` (the watch backs off toward
    BATCHCOOK_MAX_POLL_INTERVAL until the batches end — they expire by themselves after
    24 h), ``fallback`` (cancel and let the caller generate the rest at standard price) or
    ``fail`` (cancel and fail). ``started`` is when the batches were submitted."""
    settings = runtime().settings
    interval, foreground = settings.poll_interval, True
    seen: dict[str, Seen] = {b: ("validating", 0, 0) for b in batch_ids}  # as just created
    waited = 0.0
    job.status = "generating"
    await publish(job)
    while True:
        watch.current().watch(
            job.id,
            seen,
            interval,
            backoff=1.0 if foreground else 1.5,
            max_interval=settings.max_poll_interval,
        )
        # A durable sleep: the watch, the sweep or a webhook cuts it short. A job also wakes
        # at the end of the foreground wait, and every max_poll_interval as a safety net.
        sleep = settings.max_poll_interval
        if foreground:
            sleep = min(sleep, settings.poll_timeout - waited)
        message = await DBOS.recv_async(WAKE_TOPIC, timeout_seconds=max(sleep, 0.01))
        if message is None or watch.wake_message(message):
            max_age = interval if foreground else settings.max_poll_interval
        else:
            # The sweep or a webhook saw a change. The sweep left what it read in this
            # process's watch; a copy older than one poll interval is read again.
            max_age = settings.poll_interval

        polled = await _again(steps.poll_batches, batch_ids, max_age)
        if "error" in polled:
            return polled
        states = {s["id"]: BatchState.model_validate(s) for s in polled["ok"]["batches"]}
        waited = polled["ok"]["at"] - started
        job.batches = [
            states[b.id].model_copy(update={"attempt": b.attempt}) if b.id in states else b
            for b in job.batches
        ]
        await publish(job)
        unfinished = [b for b in batch_ids if states[b].status not in TERMINAL]
        if not unfinished:
            return {}
        seen = {b: (states[b].status, states[b].completed, states[b].failed) for b in unfinished}
        if foreground and waited >= settings.poll_timeout:
            ids = ", ".join(f"{b} ({states[b].status})" for b in unfinished)
            if settings.on_timeout == "continue":
                foreground = False
                job.status = "waiting"
                if job.kind == "create" and not job.page_id:
                    # Show the recipe is coming: a page with the title and the batch ids.
                    placed = await steps.write_placeholder(
                        job.id, placeholder_title(job.prompt), batch_ids, job.database_id
                    )
                    if placed.get("ok"):
                        job.page_id, job.page_url = placed["ok"]["id"], placed["ok"]["url"]
                await publish(job)
            else:
                await steps.cancel_batches(unfinished)
                if settings.on_timeout == "fallback":
                    return {"fallback": unfinished}
                return {
                    "error": {
                        "step": "poll_batches",
                        "message": f"batch timeout after {settings.poll_timeout:.0f}s: {ids} "
                        "cancelled (BATCHCOOK_ON_TIMEOUT=fail)",
                        "type": "BatchTimeoutError",
                        "retryable": True,
                    }
                }
        if waited > WINDOW_SECONDS:
            return {
                "error": {
                    "step": "poll_batches",
                    "message": f"batches {', '.join(unfinished)} did not end within the 24 h "
                    "window",
                    "type": "BatchTimeoutError",
                    "retryable": True,
                }
            }
        if not foreground:
            interval = min(interval * 1.5, settings.max_poll_interval)
