"""The side effects of a job, one DBOS step each, each safe to run again after a crash.

A step can re-run if the process dies after its effect but before its checkpoint, so every
step that costs money or writes a page looks before it acts: parts are written to the parts
table once (the collector's batches are found by metadata, ``collector.py``), and the store
finds a page by job id before creating one. Steps return plain data; a failure comes back
as ``{"error": …}`` so the workflow records it on the job (exceptions do not always survive
checkpointing).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from dbos import DBOS

from batchcook.config import Mode
from batchcook.errors import BatchcookError
from batchcook.generation import direct
from batchcook.generation.batch.results import decode, encode
from batchcook.generation.catalog import Tier, load_catalog
from batchcook.generation.generate import check_models, interpret
from batchcook.generation.plan import Part, plan
from batchcook.jobs import Cost
from batchcook.recipes.schema import Recipe
from batchcook.stores import Image, RecipeStore
from batchcook.stores.base import ShowsProgress
from batchcook.transient import is_transient
from batchcook.workflows import parts, spend
from batchcook.workflows.runtime import runtime

log = logging.getLogger(__name__)
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
T = TypeVar("T")
Outcome = dict[str, Any]


def _error(step: str, err: BaseException) -> Outcome:
    """A step's failure as plain data. ``transient``: the cause passes with time (rate
    limits, 5xx, timeouts, cut-off downloads, a locked database), so the workflow runs the
    step again after a durable pause instead of failing a job that may have paid already."""
    retryable = isinstance(err, BatchcookError) and err.retryable
    return {
        "error": {
            "step": step,
            "message": str(err) or type(err).__name__,
            "type": type(err).__name__,
            "retryable": retryable,
            "transient": is_transient(err),
        }
    }


async def _guard(step: str, work: Callable[[], Awaitable[T]]) -> Outcome:
    try:
        return {"ok": await work()}
    except Exception as err:  # recorded on the job; the workflow decides what follows
        log.warning("step %s failed: %s", step, err)
        return _error(step, err)


@DBOS.step(name="check_models")
async def check_models_step(mode: Mode, today: str) -> Outcome:
    """A retired or unsuitable model fails the job before anything is uploaded."""
    settings = runtime().settings

    async def work() -> None:
        catalog = load_catalog(settings.catalog_path)
        check_models(catalog, settings, mode, date.fromisoformat(today))

    return await _guard("check_models", work)


@DBOS.step(name="plan_parts")
async def plan_parts(
    job_id: str, prompt: str, instructions: str, image_prompt: str, mode: Mode
) -> Outcome:
    """The job's parts as planned now (checkpointed: a replay uses the same, whatever the
    settings say later). The request bodies go to the plans table, not into the checkpoint,
    which would outlive the job."""

    async def work() -> list[dict[str, Any]]:
        settings = runtime().settings
        planned = plan(job_id, prompt, instructions, image_prompt, Recipe, settings, mode)
        whole = [p.as_dict() for p in planned]
        kept: list[dict[str, Any]] = await parts.run(
            parts.save_plan, settings.database(), job_id, whole
        )
        return kept

    return await _guard("plan_parts", work)


@DBOS.step(name="enqueue_parts")
async def enqueue_parts(job_id: str, planned: list[dict[str, Any]], attempt: int) -> Outcome:
    """Hand batch parts to the collector (written once, whatever the re-runs)."""

    async def work() -> float:
        await parts.run(parts.enqueue, runtime().settings.database(), job_id, planned, attempt)
        return time.time()

    return await _guard("enqueue_parts", work)


@DBOS.step(name="parts_view")
async def parts_view(job_id: str) -> Outcome:
    """Read-only, no OpenAI call: the parts table says where the job's parts are."""

    async def work() -> dict[str, Any]:
        view: dict[str, Any] = await parts.run(parts.view, runtime().settings.database(), job_id)
        return view

    return await _guard("parts_view", work)


@DBOS.step(name="part_outcomes")
async def part_outcomes(job_id: str, attempt: int) -> Outcome:
    async def work() -> dict[str, dict[str, Any]]:
        url = runtime().settings.database()
        found: dict[str, dict[str, Any]] = await parts.run(parts.outcomes, url, job_id, attempt)
        return found

    return await _guard("part_outcomes", work)


@DBOS.step(name="call_parts")
async def call_parts(job_id: str, planned: list[dict[str, Any]], attempt: int) -> Outcome:
    """Parts that do not wait for a batch (flex, standard, the fallback): called now, their
    results stored like a batch's (a re-run after a crash would pay again: the API offers no
    idempotency key for them — documented in the README)."""

    async def work() -> dict[str, dict[str, Any]]:
        url = runtime().settings.database()
        wanted = [Part.from_dict(p) for p in await parts.run(parts.with_bodies, url, planned)]
        async with runtime().openai() as client:
            answers = await asyncio.gather(
                *(
                    direct.call(client, p.request(), "flex" if p.tier == "flex" else "standard")
                    for p in wanted
                )
            )
        out: dict[str, dict[str, Any]] = {}
        for (result, tier), part in zip(answers, wanted, strict=True):
            encoded = encode(result, tier)
            await parts.run(parts.store, url, job_id, encoded, attempt, tier)
            out[part.custom_id] = {"ok": result.ok, "retryable": encoded.get("retryable", False)}
        return out

    return await _guard("call_parts", work)


def _generated(gen: Any) -> dict[str, Any]:
    return {
        "recipe": gen.data.model_dump(mode="json"),
        "image_format": gen.image_format,
        "costs": [
            Cost(
                custom_id=c.custom_id,
                model=c.model,
                tier=c.tier,
                input_tokens=c.usage.input_tokens,
                output_tokens=c.usage.output_tokens,
                usd=c.usd,
            ).model_dump()
            for c in gen.costs
        ],
    }


@DBOS.step(name="interpret_results")
async def interpret_results(job_id: str, roles: dict[str, str]) -> Outcome:
    """The stored results → validated recipe, checked image and cost; or the error table's
    error. The image stays in the parts table: the output names it, so no checkpoint holds
    its megabytes."""

    async def work() -> dict[str, Any]:
        settings = runtime().settings
        stored = await parts.run(parts.results, settings.database(), job_id)
        text_id, image_id = roles["recipe"], roles["image"]
        decoded = {cid: decode(r) for cid, r in stored.items()}
        tiers: dict[str, Tier] = {cid: r.get("tier", "batch") for cid, r in stored.items()}
        tiers.setdefault(text_id, "batch")
        tiers.setdefault(image_id, "batch")
        batch_ids = sorted({r.batch_id for r in decoded.values() if r.batch_id})
        gen = interpret(decoded, text_id, image_id, Recipe, settings, tiers, batch_ids)
        out = _generated(gen)
        out["image"] = {"custom_id": image_id, "attempt": stored[image_id]["attempt"]}
        return out

    return await _guard("interpret_results", work)


@DBOS.step(name="forget_parts")
async def forget_parts(job_id: str) -> Outcome:
    """The page is written: the job's stored results are no longer needed."""

    async def work() -> int:
        count: int = await parts.run(parts.forget, runtime().settings.database(), job_id)
        return count

    return await _guard("forget_parts", work)


async def _with_store(
    work: Callable[[RecipeStore], Awaitable[T]], database_id: str | None = None
) -> T:
    async with runtime().store(database_id) as store:
        return await work(store)


async def _image(generated: dict[str, Any]) -> Image:
    """The generated image, from the parts table (or, from a job generated before results
    were stored there, from its checkpoint)."""
    kind = CONTENT_TYPES[generated["image_format"]]
    if "image_b64" in generated:
        return Image(base64.b64decode(generated["image_b64"]), kind)
    ref = generated["image"]
    url = runtime().settings.database()
    raw = await parts.run(parts.payload, url, ref["custom_id"], ref["attempt"])
    if raw is None:
        raise LookupError(
            f"the image {ref['custom_id']} is no longer stored (results of a failed job are "
            "kept for two days): start a new job"
        )
    return Image(raw, kind)


@DBOS.step(name="write_recipe")
async def write_recipe(
    job_id: str, generated: dict[str, Any], database_id: str | None = None
) -> Outcome:
    """Create the page; the store finds the page this job already made, if any."""

    async def work() -> dict[str, str]:
        recipe = Recipe.model_validate(generated["recipe"])

        async def create(store: RecipeStore) -> dict[str, str]:
            stored = await store.create(recipe, await _image(generated), job_id=job_id)
            return {"id": stored.id, "url": stored.url}

        return await _with_store(create, database_id)

    return await _guard("write_recipe", work)


@DBOS.step(name="read_recipe")
async def read_recipe(page_id: str) -> Outcome:
    async def work() -> dict[str, Any]:
        async def read(store: RecipeStore) -> dict[str, Any]:
            recipe: Recipe = await store.read(page_id)
            return recipe.model_dump(mode="json")

        return await _with_store(read)

    return await _guard("read_recipe", work)


@DBOS.step(name="update_recipe")
async def update_recipe(page_id: str, generated: dict[str, Any]) -> Outcome:
    """Replace the page's content; writing the same content twice leaves the same page."""

    async def work() -> dict[str, str]:
        recipe = Recipe.model_validate(generated["recipe"])

        async def update(store: RecipeStore) -> dict[str, str]:
            stored = await store.update(page_id, recipe, await _image(generated))
            return {"id": stored.id, "url": stored.url}

        return await _with_store(update)

    return await _guard("update_recipe", work)


@DBOS.step(name="reuse_results")
async def reuse_results(old_job_id: str, job_id: str) -> Outcome:
    """What a failed earlier attempt already paid for: the whole generated recipe (it failed
    after generating, e.g. writing the page; its image is still in the parts table), or
    else each part that succeeded, copied to this job under its own custom ids. Nothing is
    downloaded; the custom ids copied are returned (their cost is the earlier job's)."""

    def rename(custom_id: str) -> str:
        return job_id + custom_id.removeprefix(old_job_id)

    async def work() -> dict[str, Any]:
        url = runtime().settings.database()
        generated: dict[str, Any] | None = None
        for step in await DBOS.list_workflow_steps_async(old_job_id):
            out, name = step["output"], step["function_name"].rsplit(".", 1)[-1]
            ok = out.get("ok") if isinstance(out, dict) else None
            if name == "interpret_results" and isinstance(ok, dict):
                generated = ok
        reused: list[str] = []
        if generated is None:
            earlier = await parts.run(parts.results, url, old_job_id)
            for custom_id, result in earlier.items():
                if result.get("ok"):
                    copy = {**result, "custom_id": rename(custom_id)}
                    await parts.run(parts.store, url, job_id, copy, 0, result.get("tier", "batch"))
                    reused.append(copy["custom_id"])
        return {"generated": generated, "reused": reused}

    return await _guard("reuse_results", work)


@DBOS.step(name="settle_spend")
async def settle_spend(job_id: str, usd: float) -> Outcome:
    """The job's actual cost replaces its reserved estimate in the spend ledger (budgets)."""

    async def work() -> None:
        await asyncio.to_thread(spend.settle, runtime().settings.database(), job_id, usd)

    return await _guard("settle_spend", work)


@DBOS.step(name="write_placeholder")
async def write_placeholder(
    job_id: str, title: str, batch_ids: list[str], database_id: str | None = None
) -> Outcome:
    """A page that says the recipe is coming, for stores that can show one (Notion)."""

    async def work() -> dict[str, str] | None:
        async def place(store: RecipeStore) -> dict[str, str] | None:
            if not isinstance(store, ShowsProgress):
                return None
            stored = await store.placeholder(title, job_id, batch_ids)
            return {"id": stored.id, "url": stored.url}

        return await _with_store(place, database_id)

    return await _guard("write_placeholder", work)


@DBOS.step(name="mark_failed")
async def mark_failed(job_id: str, reason: str, database_id: str | None = None) -> Outcome:
    """Status "Failed" and the reason on the job's placeholder page, if it has one."""

    async def work() -> None:
        async def mark(store: RecipeStore) -> None:
            if isinstance(store, ShowsProgress):
                await store.mark_failed(job_id, reason)

        await _with_store(mark, database_id)

    return await _guard("mark_failed", work)
