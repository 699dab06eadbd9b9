"""The side effects of a job, one DBOS step each, each safe to run again after a crash.

A step can re-run if the process dies after its effect but before its checkpoint, so every
step that costs money or writes a page looks before it acts: batches are found by their
``batchcook_job`` metadata before any is created, and the store finds a page by job id
before creating one. Steps return plain data; a failure comes back as ``{"error": …}``
so the workflow records it on the job (exceptions do not always survive checkpointing).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from dbos import DBOS
from openai.types import Batch

from batchcook import instrument
from batchcook.config import Mode
from batchcook.generation import direct
from batchcook.generation.batch import BatchRunner, Failure, Result, SubmittedBatch, Success
from batchcook.generation.batch.jsonl import BatchRequest
from batchcook.generation.batch.runner import files_of
from batchcook.generation.catalog import Tier, load_catalog
from batchcook.generation.generate import (
    check_models,
    generate_data_and_image,
    interpret,
    job_requests,
)
from batchcook.jobs import BatchState, Cost
from batchcook.recipes.schema import Recipe
from batchcook.stores import Image
from batchcook.transient import is_transient
from batchcook.workflows import marks, spend, watch
from batchcook.workflows.install import INSTALL_METADATA, install_id
from batchcook.workflows.runtime import runtime

log = logging.getLogger(__name__)
JOB_METADATA = "batchcook_job"
ATTEMPT_METADATA = "batchcook_attempt"
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
T = TypeVar("T")
Outcome = dict[str, Any]


def _error(step: str, err: BaseException) -> Outcome:
    """A step's failure as plain data. ``transient``: the cause passes with time (rate
    limits, 5xx, timeouts, cut-off downloads, a locked database), so the workflow runs the
    step again after a durable pause instead of failing a job that may have paid already."""
    retryable = bool(getattr(err, "retryable", False))
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


def _requests(
    job_id: str, prompt: str, instructions: str, image_prompt: str
) -> tuple[BatchRequest, BatchRequest]:
    settings = runtime().settings
    return job_requests(job_id, prompt, instructions, Recipe, image_prompt, settings)


@DBOS.step(name="check_models")
async def check_models_step(mode: Mode, today: str) -> Outcome:
    """A retired or unsuitable model fails the job before anything is uploaded."""
    settings = runtime().settings

    async def work() -> None:
        catalog = load_catalog(settings.catalog_path)
        check_models(catalog, settings, mode, date.fromisoformat(today))

    return await _guard("check_models", work)


@DBOS.step(name="submit_batches")
async def submit_batches(
    job_id: str,
    prompt: str,
    instructions: str,
    image_prompt: str,
    endpoints: list[str],
    attempt: int = 0,
    since: float = 0.0,
) -> Outcome:
    """Create the job's batches for ``endpoints`` (attempt ``attempt``) — unless an earlier
    run of this step already did: a re-run (its mark is taken) finds them by metadata."""

    async def work() -> list[dict[str, Any]]:
        requests = [
            r
            for r in _requests(job_id, prompt, instructions, image_prompt)
            if r.endpoint in endpoints
        ]
        settings = runtime().settings
        first_run = await marks.claim_async(
            settings.database(), f"submit:{job_id}:{attempt}:{','.join(endpoints)}"
        )
        install = await asyncio.to_thread(install_id, settings)
        async with runtime().openai() as client:
            runner = BatchRunner(client)
            found = (
                {} if first_run else await find_job_batches(runner, job_id, attempt, since, install)
            )
            missing = [r for r in requests if r.endpoint not in found]
            metadata = {
                JOB_METADATA: job_id,
                ATTEMPT_METADATA: str(attempt),
                INSTALL_METADATA: install,
            }
            for s in await runner.submit(missing, metadata):
                found[s.endpoint] = s
            if not first_run and missing:
                # The crashed run may have had a create in flight that committed after the
                # search: look once more and cancel any second batch for a part.
                keep = {s.id for s in found.values()}
                again = await job_batches(runner, job_id, attempt, since, install)
                extra = [b.id for b in again if b.id not in keep and b.endpoint in found]
                if extra:
                    log.warning("job %s: cancelling surplus batches %s", job_id, extra)
                    await runner.cancel(extra)
        by_endpoint = {r.endpoint: r.custom_id for r in requests}
        at = time.time()
        return [
            {
                "id": s.id,
                "endpoint": s.endpoint,
                "input_file_id": s.input_file_id,
                "custom_ids": [by_endpoint[s.endpoint]],
                "attempt": attempt,
                "submitted_at": at,
            }
            for s in found.values()
            if s.endpoint in by_endpoint
        ]

    return await _guard("submit_batches", work)


async def find_job_batches(
    runner: BatchRunner,
    job_id: str,
    attempt: int = 0,
    since: float = 0.0,
    install: str | None = None,
) -> dict[str, SubmittedBatch]:
    """Our batches for ``job_id`` and ``attempt``, the first found per endpoint."""
    found: dict[str, SubmittedBatch] = {}
    for batch in await job_batches(runner, job_id, attempt, since, install):
        if batch.endpoint not in found:
            found[batch.endpoint] = SubmittedBatch(
                batch.id, batch.endpoint, batch.model or "", batch.input_file_id
            )
    return found


async def job_batches(
    runner: BatchRunner,
    job_id: str,
    attempt: int = 0,
    since: float = 0.0,
    install: str | None = None,
) -> list[Batch]:
    """Every live batch for ``job_id`` and ``attempt`` (and ``install``: another install on
    the same project may reuse a request id), newest first. The list is newest first, so
    the scan stops at batches older than the job (``since``): for a new job that is one
    call."""
    matches: list[Batch] = []
    count = 0
    async for batch in runner.list_batches():
        count += 1
        if batch.created_at < since or count > 1000:
            break
        meta = batch.metadata or {}
        if (
            meta.get(JOB_METADATA) == job_id
            and meta.get(ATTEMPT_METADATA, "0") == str(attempt)
            # Another install's batch is not ours; one with no install id was made by an
            # earlier version for this very job (a job in flight across an upgrade).
            and (install is None or meta.get(INSTALL_METADATA, install) == install)
            # A batch cancelled because its sibling's create failed must be made again.
            and batch.status not in ("cancelling", "cancelled", "failed")
        ):
            matches.append(batch)
    return matches


@DBOS.step(name="cancel_batches")
async def cancel_batches(batch_ids: list[str]) -> Outcome:
    """Nobody will read these results: stop paying for them (finished ones cannot be)."""

    async def work() -> int:
        async with runtime().openai() as client:
            await BatchRunner(client).cancel(batch_ids)
        return len(batch_ids)

    return await _guard("cancel_batches", work)


@DBOS.step(name="poll_batches")
async def poll_batches(batch_ids: list[str], max_age: float = 0.0) -> Outcome:
    """Read-only: safe to repeat. Reads this process's batch watch, which calls OpenAI only
    when its copy is older than ``max_age`` seconds — and then once for every job asking."""

    async def work() -> dict[str, Any]:
        fresh = await watch.current().batches(batch_ids, max_age)
        instrument.batches_polled(fresh.values())  # latency histogram, once per batch
        return {"batches": [_state(fresh[b]).model_dump() for b in batch_ids], "at": time.time()}

    return await _guard("poll_batches", work)


def _state(batch: Batch) -> BatchState:
    counts = batch.request_counts
    return BatchState(
        id=batch.id,
        endpoint=batch.endpoint,
        status=batch.status,
        completed=counts.completed if counts else 0,
        failed=counts.failed if counts else 0,
        total=counts.total if counts else 0,
    )


def _generated(gen: Any) -> dict[str, Any]:
    return {
        "recipe": gen.data.model_dump(mode="json"),
        "image_b64": base64.b64encode(gen.image).decode(),
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


def encode(result: Result, tier: str = "batch") -> dict[str, Any]:
    """A result as plain data (steps' outputs are checkpointed)."""
    data = dataclasses.asdict(result)
    data["tier"] = tier
    if isinstance(result, Failure):
        data["retryable"] = result.retryable
    return data


def decode(data: dict[str, Any]) -> Result:
    if data["ok"]:
        return Success(data["custom_id"], data["body"], data["batch_id"])
    return Failure(
        data["custom_id"],
        data["kind"],
        data["code"],
        data["message"],
        data["batch_id"],
        data["status_code"],
    )


@DBOS.step(name="collect_results")
async def collect_results(submitted: list[dict[str, Any]]) -> Outcome:
    """Both result files of terminal batches, one entry per custom_id; re-downloading after
    a crash costs nothing."""

    async def work() -> dict[str, dict[str, Any]]:
        async with runtime().openai() as client:
            runner = BatchRunner(client)
            batches = await runner.refresh([s["id"] for s in submitted])
            results = await runner.collect(
                batches.values(), {s["id"]: s["custom_ids"] for s in submitted}
            )
        return {cid: encode(r) for cid, r in results.items()}

    return await _guard("collect_results", work)


@DBOS.step(name="interpret_results")
async def interpret_results(job_id: str, results: dict[str, dict[str, Any]]) -> Outcome:
    """Both parts → validated recipe, checked image and cost; or the error table's error."""

    async def work() -> dict[str, Any]:
        settings = runtime().settings
        text_id, image_id = f"{job_id}-data", f"{job_id}-image"
        decoded = {cid: decode(r) for cid, r in results.items()}
        tiers: dict[str, Tier] = {cid: r.get("tier", "batch") for cid, r in results.items()}
        tiers.setdefault(text_id, "batch")
        tiers.setdefault(image_id, "batch")
        batch_ids = sorted({r.batch_id for r in decoded.values() if r.batch_id})
        gen = interpret(decoded, text_id, image_id, Recipe, settings, tiers, batch_ids)
        return _generated(gen)

    return await _guard("interpret_results", work)


@DBOS.step(name="generate_standard")
async def generate_standard(
    job_id: str, prompt: str, instructions: str, image_prompt: str, endpoints: list[str]
) -> Outcome:
    """The fallback: the missing parts now, at the standard price."""

    async def work() -> dict[str, dict[str, Any]]:
        requests = [
            r
            for r in _requests(job_id, prompt, instructions, image_prompt)
            if r.endpoint in endpoints
        ]
        async with runtime().openai() as client:
            answers = [await direct.call(client, r) for r in requests]
        return {
            r.custom_id: encode(result, tier)
            for r, (result, tier) in zip(requests, answers, strict=True)
        }

    return await _guard("generate_standard", work)


@DBOS.step(name="generate_direct")
async def generate_direct(
    job_id: str, prompt: str, instructions: str, image_prompt: str, mode: str
) -> Outcome:
    """flex / standard: synchronous calls (a re-run after a crash would pay again: the API
    offers no idempotency key for them — documented in the README)."""

    async def work() -> dict[str, Any]:
        settings = runtime().settings
        async with runtime().openai() as client:
            gen = await generate_data_and_image(
                prompt,
                instructions,
                Recipe,
                image_prompt,
                mode=mode,  # type: ignore[arg-type]
                settings=settings,
                client=client,
                job_id=job_id,
            )
        return _generated(gen)

    return await _guard("generate_direct", work)


async def _with_store(work: Callable[[Any], Awaitable[T]], database_id: str | None = None) -> T:
    store = runtime().store(database_id)
    try:
        return await work(store)
    finally:
        close = getattr(store, "aclose", None)
        if close is not None:
            await close()


def _image(generated: dict[str, Any]) -> Image:
    return Image(base64.b64decode(generated["image_b64"]), CONTENT_TYPES[generated["image_format"]])


@DBOS.step(name="write_recipe")
async def write_recipe(
    job_id: str, generated: dict[str, Any], database_id: str | None = None
) -> Outcome:
    """Create the page; the store finds the page this job already made, if any."""

    async def work() -> dict[str, str]:
        recipe = Recipe.model_validate(generated["recipe"])

        async def create(store: Any) -> dict[str, str]:
            stored = await store.create(recipe, _image(generated), job_id=job_id)
            return {"id": stored.id, "url": stored.url}

        return await _with_store(create, database_id)

    return await _guard("write_recipe", work)


@DBOS.step(name="read_recipe")
async def read_recipe(page_id: str) -> Outcome:
    async def work() -> dict[str, Any]:
        async def read(store: Any) -> dict[str, Any]:
            recipe: Recipe = await store.read(page_id)
            return recipe.model_dump(mode="json")

        return await _with_store(read)

    return await _guard("read_recipe", work)


@DBOS.step(name="update_recipe")
async def update_recipe(page_id: str, generated: dict[str, Any]) -> Outcome:
    """Replace the page's content; writing the same content twice leaves the same page."""

    async def work() -> dict[str, str]:
        recipe = Recipe.model_validate(generated["recipe"])

        async def update(store: Any) -> dict[str, str]:
            stored = await store.update(page_id, recipe, _image(generated))
            return {"id": stored.id, "url": stored.url}

        return await _with_store(update)

    return await _guard("update_recipe", work)


@DBOS.step(name="cleanup_files")
async def cleanup_files(submitted: list[dict[str, Any]]) -> Outcome:
    """Delete our input and result files once the recipe is safely written."""

    async def work() -> int:
        # Ended batches do not change: the watch's copy names their files, at no call.
        batches = await watch.current().batches([s["id"] for s in submitted], max_age=86400)
        files = files_of([s["input_file_id"] for s in submitted], batches.values())
        async with runtime().openai() as client:
            await BatchRunner(client).delete_files(files)
        url = runtime().settings.database()
        for file_id in files:  # so the sweep does not delete them again
            await marks.claim_async(url, f"deleted:{file_id}")
        return len(files)

    return await _guard("cleanup_files", work)


@DBOS.step(name="reuse_results")
async def reuse_results(old_job_id: str, job_id: str) -> Outcome:
    """What a failed earlier attempt already paid for, read from its checkpoints: the whole
    generated recipe and image (it failed after generating, e.g. writing the page), or else
    each part that succeeded, renamed to this job's custom ids. Nothing is downloaded."""

    def rename(custom_id: str) -> str:
        return job_id + custom_id.removeprefix(old_job_id)

    async def work() -> dict[str, Any]:
        generated: dict[str, Any] | None = None
        results: dict[str, dict[str, Any]] = {}
        for step in await DBOS.list_workflow_steps_async(old_job_id):
            out, name = step["output"], step["function_name"].rsplit(".", 1)[-1]
            if not isinstance(out, dict) or not isinstance(out.get("ok"), dict):
                continue
            if name in ("interpret_results", "generate_direct"):
                generated = out["ok"]
            elif name in ("collect_results", "generate_standard"):
                for custom_id, result in out["ok"].items():
                    if isinstance(result, dict) and result.get("ok"):
                        results[rename(custom_id)] = {**result, "custom_id": rename(custom_id)}
        return {"generated": generated, "results": results}

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
        async def place(store: Any) -> dict[str, str] | None:
            if not hasattr(store, "placeholder"):
                return None
            stored = await store.placeholder(title, job_id, batch_ids)
            return {"id": stored.id, "url": stored.url}

        return await _with_store(place, database_id)

    return await _guard("write_placeholder", work)


@DBOS.step(name="mark_failed")
async def mark_failed(job_id: str, reason: str, database_id: str | None = None) -> Outcome:
    """Status "Failed" and the reason on the job's placeholder page, if it has one."""

    async def work() -> None:
        async def mark(store: Any) -> None:
            if hasattr(store, "mark_failed"):
                await store.mark_failed(job_id, reason)

        await _with_store(mark, database_id)

    return await _guard("mark_failed", work)
