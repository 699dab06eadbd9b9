"""Shared batches: requests, not jobs, fill a batch.

A job writes its batch parts to the parts table (``parts.py``), then *joins* a collector
round: the round is a DBOS workflow enqueued with one deduplication id that first sleeps
``BATCHCOOK_BATCH_WINDOW`` seconds, so every job that joins while it waits — in any process —
joins the same one. When the window closes the round claims every waiting part and starts
its follower, which groups the parts per endpoint and model (within the 50,000-line / 200 MB
file limits), uploads, creates the batches, follows them (this process's batch watch, the
sweep and OpenAI webhooks wake it), streams each ended batch's output and error files line by
line into the parts table, and wakes the jobs whose parts it answered.

A line that fails ends only its own part: its job decides to retry it (the retry joins the
next round) or to fail. A job that gives up (timeout, cancel) abandons its parts; a batch no
job wants any more is cancelled.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any

from dbos import DBOS, SetEnqueueOptions, SetWorkflowID
from openai.types import Batch

from batchcook import instrument
from batchcook.config import Settings
from batchcook.generation.batch import BatchRunner, Failure
from batchcook.generation.batch.facts import (
    GROUP_METADATA,
    INSTALL_METADATA,
    JOB_METADATA,
    TERMINAL,
)
from batchcook.generation.batch.jsonl import plan_chunks
from batchcook.generation.batch.runner import (
    NullRecorder,
    SubmittedBatch,
    batch_failure,
    files_of,
)
from batchcook.workflows import marks, parts, watch
from batchcook.workflows.install import install_id
from batchcook.workflows.names import COLLECT_QUEUE, COLLECT_ROUND, FOLLOW_ROUND
from batchcook.workflows.runtime import runtime
from batchcook.workflows.steps import Outcome, _guard

log = logging.getLogger(__name__)
ROUND_KEY = "batchcook-round"  # the deduplication id: one round gathers at a time
ENDED = TERMINAL | {"gone"}  # "gone": OpenAI answers 404 for it
ROUTE_SLICE = 32  # result lines stored per transaction while streaming a file
RESUBMITTED = "resubmitted:"  # the mark of a submit step that ran again after a crash


async def join(window: float, longest: float = 0.0) -> None:
    """Make sure a round will collect the parts just written: the one gathering now, or a
    new one that closes ``window`` seconds from now (later while parts keep arriving, at
    most ``longest`` seconds). Called from a job's workflow."""
    # Not an enqueue delay: DBOS pushes a delayed workflow back each time a duplicate is
    # enqueued (a debounce), so a steady stream of jobs would never be collected. The round
    # sleeps its window itself, and is deduplicated while it does.
    options = SetEnqueueOptions(deduplication_id=ROUND_KEY, duplication_policy="return-existing")
    with options:
        await DBOS.enqueue_workflow_async(COLLECT_QUEUE, collect_round, window, longest)


def follower_id(round_id: str) -> str:
    return f"{round_id}-follow"


def round_of(follower: str) -> str:
    """The round whose follower id a batch's ``batchcook_job`` metadata holds."""
    return follower.removesuffix("-follow")


@DBOS.workflow(name=COLLECT_ROUND)
async def collect_round(window: float = 0.0, longest: float = 0.0) -> dict[str, Any]:
    """Gather for ``window`` seconds (every job joining meanwhile joins this round), and on
    while parts keep arriving — until none has for ``window`` seconds, or ``longest`` in all
    — then claim every waiting part, hand them to a follower and end, so the next round can
    gather while these batches run. A lone job's parts are ``window`` old when it closes,
    so it waits no longer than before; a burst that several processes start over longer
    than a window forms one round, not one per window."""
    round_id = DBOS.workflow_id or ""
    if window > 0:
        await DBOS.sleep_async(window)
        opened: float | None = None  # the bound is wall time: a look can be slow under load
        while longest > window:
            look = await quiet_for()
            if "error" in look:
                break
            quiet, at = look["ok"]["quiet"], look["ok"]["at"]
            opened = at - window if opened is None else opened
            left = longest - (at - opened)
            if quiet >= window or left <= 0:
                break
            await DBOS.sleep_async(min(window - quiet, left))
    taken = await claim_parts(round_id)
    if "error" in taken or not taken["ok"]:
        return taken
    with SetWorkflowID(follower_id(round_id)):
        await DBOS.start_workflow_async(follow_round, round_id)
    return taken


@DBOS.step(name="quiet_for")
async def quiet_for() -> Outcome:
    """Seconds since the newest waiting part was written (a day if there is none), and
    when this was asked."""

    async def work() -> dict[str, float]:
        newest = await parts.run(parts.newest_waiting, runtime().settings.database())
        at = time.time()
        return {"quiet": 86400.0 if newest is None else max(at - newest, 0.0), "at": at}

    return await _guard("quiet_for", work)


@DBOS.step(name="claim_parts")
async def claim_parts(round_id: str) -> Outcome:
    async def work() -> int:
        count: int = await parts.run(parts.claim, runtime().settings.database(), round_id)
        return count

    return await _guard("claim_parts", work)


@DBOS.workflow(name=FOLLOW_ROUND)
async def follow_round(round_id: str) -> dict[str, Any]:
    me = DBOS.workflow_id or ""
    submitted = await _again(submit_round, me, round_id)
    if "error" in submitted:
        failed = await fail_round(round_id, submitted["error"])
        await _wake(failed.get("ok") or [], {"source": "round", "error": True})
        if not submitted["error"].get("batches"):
            return submitted
        batches: list[dict[str, Any]] = submitted["error"]["batches"]
    else:
        batches = submitted["ok"]["batches"]
        # Watched before the jobs hear of them: telling a few hundred jobs takes seconds
        # (a durable message each), and the foreground's polls count from the submit. (On a
        # bench's 10x clock, 300 jobs' messages covered half the foreground: a lone worker
        # skipped its first 20 polls.)
        settings = runtime().settings
        opened = {b["id"]: ("validating", 0, 0) for b in batches}
        watch.current().watch(me, opened, _first_interval(settings))
        await _wake(submitted["ok"]["jobs"], {"source": "round", "status": "submitted"})
    try:
        return await _follow(me, batches, submitted.get("ok", {}).get("at") or time.time())
    finally:
        watch.current().unwatch(me)


async def _follow(me: str, batches: list[dict[str, Any]], started: float) -> dict[str, Any]:
    """Until every batch has ended and its results are stored."""
    settings = runtime().settings
    ids = [b["id"] for b in batches]
    seen: dict[str, watch.Seen] = {b: ("validating", 0, 0) for b in ids}
    routed: set[str] = set()
    # With OpenAI webhooks, an event wakes this follower when a batch ends (it looks at once:
    # one call for everything watched); polling is then only the safety net, with no fast
    # foreground polls — at N = 1 they were 30 of a recipe's 52 calls.
    webhooks = settings.openai_webhook_secret is not None
    interval = _first_interval(settings)
    waited = 0.0
    while True:
        open_ids = [b for b in ids if b not in routed]
        if not open_ids:
            return {"batches": ids}
        unfinished = {b: seen[b] for b in open_ids if seen[b][0] not in ENDED}
        if unfinished:
            # Every poll_interval during the foreground wait, then backing off toward
            # max_poll_interval; the follower wakes at the end of the foreground to switch.
            foreground = waited < settings.poll_timeout and not webhooks
            watch.current().watch(
                me,
                unfinished,
                interval,
                backoff=1.0 if foreground else 1.5,
                max_interval=settings.max_poll_interval,
            )
            sleep = settings.max_poll_interval
            if foreground:
                sleep = min(sleep, max(settings.poll_timeout - waited, 0.01))
            message = await DBOS.recv_async(watch.WAKE_TOPIC, timeout_seconds=sleep)
            max_age = interval if watch.wake_message(message) else 0.0
            if message is None:
                # Woke by itself: the watch looks on its own (backed-off) schedule and wakes
                # this follower on any change, so a copy as old as that schedule is as fresh
                # as a poll of our own would be; judged by the follower's shorter interval,
                # nearly every such wake called OpenAI. (A stopped watch is read directly.)
                max_age = max(interval, watch.current().interval(me) or 0.0)
                max_age += settings.poll_interval
        else:
            max_age = 86400.0  # ended batches do not change
        polled = await _again(poll_round, open_ids, max_age)
        if "error" in polled:
            log.warning("round %s: polling failed for good: %s", me, polled["error"]["message"])
            continue
        changed: list[str] = []
        for state in polled["ok"]["batches"]:
            now_seen = (state["status"], state["completed"], state["failed"])
            if now_seen[0] != seen[state["id"]][0]:
                changed.append(state["id"])
            seen[state["id"]] = now_seen
        for batch_id in changed:
            if seen[batch_id][0] in ENDED:
                done = await _again(route_batch, batch_id)
                if "error" in done:  # its files stay on OpenAI; the next look tries again
                    seen[batch_id] = ("in_progress", 0, 0)
                    continue
                routed.add(batch_id)
                await _wake(done["ok"], {"source": "round", "batch": batch_id, "routed": True})
            else:
                jobs = await parts.run(parts.jobs_of, settings.database(), batch_id)
                await _wake(jobs, {"source": "round", "batch": batch_id})
        waited = polled["ok"]["at"] - started
        if waited > settings.poll_timeout and not webhooks:
            interval = min(interval * 1.5, settings.max_poll_interval)


def _first_interval(settings: Settings) -> float:
    """How often a round's batches are read at first: every poll_interval through the
    foreground wait; with OpenAI webhooks only as the safety net for a lost event."""
    webhooks = settings.openai_webhook_secret is not None
    return settings.webhook_poll_interval if webhooks else settings.poll_interval


async def _again(step: Any, *args: Any) -> dict[str, Any]:
    """A round's step that failed for a passing cause runs again after a durable pause:
    other people's recipes ride on it."""
    for pause in (*runtime().settings.step_pauses, None):
        out: dict[str, Any] = await step(*args)
        if "ok" in out or pause is None or not out["error"].get("transient"):
            return out
        log.warning("round step %s: %s; again in %.0f s", step, out["error"]["message"], pause)
        await DBOS.sleep_async(pause)
    raise AssertionError("unreachable")


async def _wake(job_ids: list[str], message: dict[str, Any]) -> None:
    for job_id in job_ids:
        try:
            await DBOS.send_async(job_id, message, watch.WAKE_TOPIC)
        except Exception as err:  # the job also wakes by itself
            log.warning("round: could not wake %s: %s", job_id, err)


def _group(chunk_ids: list[str]) -> str:
    """A slice's name that a re-run computes again from the same parts."""
    return hashlib.sha1("\n".join(chunk_ids).encode()).hexdigest()[:20]


@DBOS.step(name="submit_round")
async def submit_round(me: str, round_id: str) -> Outcome:
    """Upload and create one batch per slice of the round's claimed parts — unless an
    earlier run of this step already did: a re-run (its mark is taken) finds them by their
    metadata, and after creating, looks once more and cancels a second batch for a slice."""

    async def work() -> dict[str, Any]:
        settings = runtime().settings
        url = settings.database()
        pending = await parts.run(parts.claimed, url, round_id)
        first_run = await marks.claim_async(url, f"submit:{me}")
        if not first_run:  # a create of the dead run may still land: the sweep lists a while
            await marks.claim_async(url, f"{RESUBMITTED}{me}")
        install = await asyncio.to_thread(install_id, settings)
        chunks = plan_chunks([request for _, request in pending])
        keys = {request.custom_id: key for key, request in pending}
        async with runtime().openai() as client:
            runner = BatchRunner(client, file_ttl=settings.file_ttl, recorder=_Remember())
            found = {} if first_run or not chunks else await _ours(runner, me, install)
            made: dict[str, SubmittedBatch] = {}
            for chunk in chunks:
                group = _group(chunk.custom_ids)
                batch = found.get(group)
                if batch is None:
                    metadata = {JOB_METADATA: me, GROUP_METADATA: group, INSTALL_METADATA: install}
                    batch = await runner.submit_chunk(chunk, metadata)
                made[group] = batch
                await parts.run(
                    parts.record_batch,
                    url,
                    round_id,
                    {
                        "id": batch.id,
                        "endpoint": chunk.endpoint,
                        "model": chunk.model,
                        "input_file_id": batch.input_file_id,
                        "custom_ids": chunk.custom_ids,
                        "group": group,
                    },
                    [keys[c] for c in chunk.custom_ids],
                )
            if not first_run and chunks:
                again = await runner.list_ours(me, install)
                keep = {b.id for b in made.values()}
                extra = [
                    b.id
                    for b in again
                    if b.id not in keep and (b.metadata or {}).get(GROUP_METADATA) in made
                ]
                if extra:
                    log.warning("round %s: cancelling surplus batches %s", me, extra)
                    await runner.cancel(extra)
        state = await parts.run(parts.round_state, url, round_id)
        return {**state, "at": time.time()}

    return await _guard("submit_round", work)


class _Remember(NullRecorder):
    """A create answers the batch's first state: the watch keeps it, so the follower's
    first look needs no call of its own."""

    def batch_polled(self, batch: Batch) -> None:
        watch.current().remember([batch])


async def _ours(runner: BatchRunner, me: str, install: str) -> dict[str, SubmittedBatch]:
    found: dict[str, SubmittedBatch] = {}
    for b in await runner.list_ours(me, install):
        group = (b.metadata or {}).get(GROUP_METADATA)
        if group and group not in found:
            found[group] = SubmittedBatch(b.id, b.endpoint, b.model or "", b.input_file_id)
    return found


@DBOS.step(name="fail_round")
async def fail_round(round_id: str, error: dict[str, Any]) -> Outcome:
    """The round could not submit its parts: each ends failed with the cause, for its job."""

    async def work() -> list[str]:
        failure = {
            "custom_id": "",
            "ok": False,
            "kind": "http_error",
            "code": error.get("type"),
            "message": f"submitting the shared batch failed: {error.get('message')}",
            "batch_id": None,
            "status_code": None,
            "tier": "batch",
            "retryable": bool(error.get("transient") or error.get("retryable")),
        }
        jobs: list[str] = await parts.run(
            parts.fail_claimed, runtime().settings.database(), round_id, failure
        )
        return jobs

    return await _guard("fail_round", work)


@DBOS.step(name="poll_round")
async def poll_round(batch_ids: list[str], max_age: float) -> Outcome:
    """Read-only: the batches table when any process read them from OpenAI within
    ``max_age`` seconds, else this process's batch watch, which calls OpenAI only when its
    copy is older than that (and then once for everything watched)."""

    async def work() -> dict[str, Any]:
        url = runtime().settings.database()
        if max_age > 0:
            since = time.time() - max_age
            shared = await parts.run(parts.fresh_states, url, batch_ids, since)
            if shared is not None:
                return {"batches": shared, "at": time.time()}
        fresh = await watch.current().batches(batch_ids, max_age, missing_ok=True)
        instrument.batches_polled(fresh.values())
        states = [parts.state_of(fresh[b]) if b in fresh else _gone(b) for b in batch_ids]
        await parts.run(parts.update_batches, url, states)
        return {"batches": states, "at": time.time()}

    return await _guard("poll_round", work)


def _gone(batch_id: str) -> dict[str, Any]:
    """A batch OpenAI answers 404 for (deleted with its project, or never ours): it ends."""
    return {
        "id": batch_id,
        "endpoint": "",
        "status": "gone",
        "completed": 0,
        "failed": 0,
        "total": 0,
    }


@DBOS.step(name="route_batch")
async def route_batch(batch_id: str) -> Outcome:
    """Stream an ended batch's output and error files into the parts table, a slice of lines
    at a time (memory stays flat whatever the file size); a part no line answered ends with
    why. Safe to repeat: a line stored twice is the same line. Returns the jobs to wake."""

    async def work() -> list[str]:
        settings = runtime().settings
        url = settings.database()

        async def sink(lines: list[parts.Routed]) -> None:
            await parts.run(parts.route, url, batch_id, lines)

        def failed(results: list[Failure]) -> list[parts.Routed]:
            return [parts.routed(r) for r in results]

        # The follower saw it end moments ago: the watch's copy names its files (an ended
        # batch's do not change). Another process's watch has none and reads it.
        found = await watch.current().batches([batch_id], 86400.0, missing_ok=True)
        if batch_id in found and found[batch_id].status not in TERMINAL:
            found = await watch.current().batches([batch_id], 0.0, missing_ok=True)
        async with runtime().openai() as client:
            runner = BatchRunner(client)
            if batch_id not in found:
                missing = await parts.run(parts.unrouted, url, batch_id)
                message = f"OpenAI no longer knows batch {batch_id} (404)"
                await sink(
                    failed([Failure(c, "missing", "not_found", message, batch_id) for c in missing])
                )
                gone: list[str] = await parts.run(parts.finish_batch, url, batch_id)
                return gone
            batch = found[batch_id]
            instrument.batches_polled([batch])  # its latency, if this process has not yet

            if batch.status != "failed":
                for file_id in (batch.output_file_id, batch.error_file_id):
                    if file_id:
                        await runner.stream_results(
                            batch, file_id, sink, ROUTE_SLICE, parse=parts.route_line
                        )
            missing = await parts.run(parts.unrouted, url, batch_id)
            if missing:
                await sink(failed([_missing(batch, c) for c in missing]))
            jobs: list[str] = await parts.run(parts.finish_batch, url, batch_id)
            if settings.delete_files:
                files = files_of([batch.input_file_id], [batch])
                await runner.delete_files(files)
                for file_id in files:  # so the sweep does not delete them again
                    await marks.claim_async(url, f"deleted:{file_id}")
        return jobs

    return await _guard("route_batch", work)


def _missing(batch: Batch, custom_id: str) -> Failure:
    if batch.status == "failed":
        return batch_failure(batch, custom_id)
    kind = {"expired": "expired", "cancelled": "cancelled"}.get(batch.status, "missing")
    return Failure(
        custom_id,
        kind,  # type: ignore[arg-type]
        None,
        f"batch ended {batch.status} with no line for this request",
        batch.id,
    )


@DBOS.step(name="abandon_parts")
async def abandon_parts(job_id: str) -> Outcome:
    """A job's timeout or cancel: give its open parts up (see ``abandon``)."""

    async def work() -> list[str]:
        return await abandon(job_id)

    return await _guard("abandon_parts", work)


async def abandon(job_id: str) -> list[str]:
    """The job gives its open parts up; batches no job wants any more are cancelled now
    (they would be paid for an answer nobody reads). Returns the batches cancelled."""
    url = runtime().settings.database()
    touched = await parts.run(parts.abandon, url, job_id)
    unwanted: list[str] = await parts.run(parts.unwanted, url, touched)
    if unwanted:
        async with runtime().openai() as client:
            await BatchRunner(client).cancel(unwanted)
    return unwanted
