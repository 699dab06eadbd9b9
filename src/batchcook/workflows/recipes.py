"""The two durable workflows: create a recipe, modify a recipe.

Only this module sequences side effects. Each side effect is a step (``steps.py``); the
body is replay-safe plain control flow. The job record is re-published (a DBOS event) at
every transition, so ``GET /api/jobs/{id}`` and ``batchcook jobs`` read it from any process.
"""

from __future__ import annotations

import json
import math
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
from batchcook.workflows import steps
from batchcook.workflows.runtime import runtime

JOB_EVENT = "job"
TERMINAL = {"completed", "failed", "expired", "cancelled"}


async def publish(job: Job) -> None:
    job.updated_at = now()
    await DBOS.set_event_async(JOB_EVENT, job.model_dump(mode="json"))


async def fail(job: Job, error: dict[str, Any]) -> dict[str, Any]:
    job.status = "failed"
    job.error = JobError.model_validate(error)
    job.finished_at = now()
    await publish(job)
    return job.model_dump(mode="json")


@DBOS.workflow(name="create_recipe")
async def create_recipe(job_data: dict[str, Any]) -> dict[str, Any]:
    job = Job.model_validate(job_data)
    generated = await _generate(job, job.prompt, SYSTEM_INSTRUCTIONS, image_prompt(job.prompt))
    if "error" in generated:
        return await fail(job, generated["error"])
    job.status = "writing"
    await publish(job)
    written = await steps.write_recipe(job.id, generated["ok"], job.database_id)
    if "error" in written:
        return await fail(job, written["error"])
    return await _succeed(job, written["ok"], generated["ok"])


@DBOS.workflow(name="modify_recipe")
async def modify_recipe(job_data: dict[str, Any]) -> dict[str, Any]:
    job = Job.model_validate(job_data)
    assert job.page_id is not None
    current = await steps.read_recipe(job.page_id)
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
    job.status = "writing"
    await publish(job)
    written = await steps.update_recipe(job.page_id, generated["ok"])
    if "error" in written:
        return await fail(job, written["error"])
    return await _succeed(job, written["ok"], generated["ok"])


async def _succeed(job: Job, page: dict[str, str], generated: dict[str, Any]) -> dict[str, Any]:
    job.page_id, job.page_url = page["id"], page["url"]
    if generated.get("submitted"):
        await steps.cleanup_files(generated["submitted"])  # a failure here only leaks files
    job.status = "succeeded"
    job.finished_at = now()
    await publish(job)
    return job.model_dump(mode="json")


async def _generate(job: Job, prompt: str, instructions: str, picture: str) -> dict[str, Any]:
    """Submit (or in flex/standard, call directly), poll with durable sleep, collect."""
    await publish(job)
    checked = await steps.check_models_step(job.mode, datetime.now(UTC).date().isoformat())
    if "error" in checked:
        return checked
    if job.mode != "batch":
        job.status = "generating"
        await publish(job)
        out = await steps.generate_direct(job.id, prompt, instructions, picture, job.mode)
        if "ok" in out:
            job.costs = [Cost.model_validate(c) for c in out["ok"]["costs"]]
        return out

    submitted = await steps.submit_batches(job.id, prompt, instructions, picture)
    if "error" in submitted:
        return submitted
    batches: list[dict[str, Any]] = submitted["ok"]
    job.batches = [BatchState(id=b["id"], endpoint=b["endpoint"]) for b in batches]
    job.status = "submitted"
    await publish(job)

    settings = runtime().settings
    polls = max(1, math.ceil(settings.poll_timeout / settings.poll_interval) + 1)
    for attempt in range(polls):
        polled = await steps.poll_batches([b["id"] for b in batches])
        if "error" in polled:
            return polled
        job.batches = [BatchState.model_validate(s) for s in polled["ok"]]
        job.status = "generating"
        await publish(job)
        if all(b.status in TERMINAL for b in job.batches):
            break
        if attempt < polls - 1:
            await DBOS.sleep_async(settings.poll_interval)
    else:
        ids = ", ".join(f"{b.id} ({b.status})" for b in job.batches)
        return {
            "error": {
                "step": "poll_batches",
                "message": f"batch timeout after {settings.poll_timeout:.0f}s: {ids} still "
                "running; the batch ids are kept on this job",
                "type": "BatchTimeoutError",
                "retryable": True,
            }
        }
    out = await steps.collect_results(job.id, batches)
    if "ok" in out:
        job.costs = [Cost.model_validate(c) for c in out["ok"]["costs"]]
        out["ok"]["submitted"] = batches
    return out
