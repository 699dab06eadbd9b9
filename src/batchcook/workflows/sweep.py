"""The sweep: a DBOS scheduled workflow (every minute by default) that keeps OpenAI tidy.

- Refreshes every batch of ours with as few calls as possible: one ``GET /v1/batches`` page
  per 100 batches, newest first, back to the oldest running job (hourly: back to the 24 h
  window) — not one ``retrieve`` per batch.
- Wakes a job whose batch has ended, so a job backing off in ``waiting`` moves on at once.
- Finds batches that carry our ``batchcook_job`` metadata but whose job is gone (lost before
  it recorded them) or already finished, and cancels them: nothing runs unpaid-for or unseen.
- Deletes the input and result files of batches whose job has finished.
- Cancels and deletes only what carries this install's id (``workflows/install.py``): another
  install on the same OpenAI project, or a batch made before install ids, is left alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from dbos import DBOS
from openai.types import Batch

from batchcook.generation.batch import BatchRunner
from batchcook.generation.batch.facts import (
    ATTEMPT_METADATA,
    GROUP_METADATA,
    INSTALL_METADATA,
    JOB_METADATA,
    TERMINAL,
    WINDOW_SECONDS,
)
from batchcook.workflows import executors, job_index, marks, parts, watch
from batchcook.workflows.collector import RESUBMITTED, round_of
from batchcook.workflows.install import install_id
from batchcook.workflows.names import (
    COLLECT_QUEUE,
    COLLECT_ROUND,
    JOB_EVENT,
    JOB_WORKFLOWS,
    QUEUE,
)
from batchcook.workflows.runtime import runtime
from batchcook.workflows.steps import Outcome, _guard

log = logging.getLogger(__name__)

WINDOW = WINDOW_SECONDS + 3600  # a batch may end a little after its 24 h
CLOCK_SKEW = 300  # OpenAI's created_at against our clock
LATE_CREATE = 3600  # how long after a submit's re-run every minute's sweep lists (seconds)


@DBOS.step(name="oldest_waiting_job")
async def oldest_waiting_job() -> Outcome:
    """When the oldest running job started (epoch seconds), or None: no batch of a running
    job can be older, so a regular sweep need not page further back."""

    async def work() -> float | None:
        rows = await DBOS.list_workflows_async(
            status="PENDING",
            name=list(JOB_WORKFLOWS),
            limit=1,
            load_input=False,
            load_output=False,
        )
        return rows[0].created_at / 1000 if rows and rows[0].created_at else None

    return await _guard("oldest_waiting_job", work)


@DBOS.step(name="list_our_batches")
async def list_our_batches(since: float = 0.0) -> Outcome:
    async def work() -> list[dict[str, Any]]:
        cutoff = max(since, time.time() - WINDOW)
        install = await asyncio.to_thread(install_id, runtime().settings)
        ours: list[dict[str, Any]] = []
        seen: list[Batch] = []
        async with runtime().openai() as client:
            async for b in BatchRunner(client).list_batches():
                if b.created_at < cutoff:
                    break
                job_id = (b.metadata or {}).get(JOB_METADATA)
                if job_id:
                    seen.append(b)
                    files = [f for f in (b.input_file_id, b.output_file_id, b.error_file_id) if f]
                    meta = b.metadata or {}
                    ours.append(
                        {
                            "id": b.id,
                            "job": job_id,
                            "status": b.status,
                            "files": files,
                            "mine": meta.get(INSTALL_METADATA) == install,
                            "endpoint": b.endpoint,
                            "attempt": meta.get(ATTEMPT_METADATA, "0"),
                            "group": meta.get(GROUP_METADATA),
                        }
                    )
        watch.current().remember(seen)
        return ours

    return await _guard("list_our_batches", work)


@DBOS.step(name="sweep_act")
async def sweep_act(cancel: list[str], delete: list[str]) -> Outcome:
    async def work() -> dict[str, int]:
        # A finished batch still names its files for 24 h: delete each once, not every tick.
        url = runtime().settings.database()
        fresh = [f for f in delete if await marks.claim_async(url, f"deleted:{f}")]
        async with runtime().openai() as client:
            runner = BatchRunner(client)
            await runner.cancel(cancel)
            await runner.delete_files(fresh)
        return {"cancelled": len(cancel), "deleted": len(fresh)}

    return await _guard("sweep_act", work)


def queue_for(workflow_name: str | None) -> str | None:
    """The queue a dead executor's workflow resumes on: a job on the job queue (its slots
    bound what a worker runs at once), a collector round on the collector's, anything else
    (a round's follower, a sweep) on DBOS's internal queue, which has no limit. A follower
    resumed on the job queue waits for a slot that sleeping jobs hold while they wait for
    it: seen as a deadlock with 50 jobs asleep in 2 × 25 slots."""
    if workflow_name in JOB_WORKFLOWS:
        return QUEUE
    if workflow_name == COLLECT_ROUND:
        return COLLECT_QUEUE
    return None


@DBOS.step(name="fail_over")
async def fail_over() -> Outcome:
    """Resume the jobs of executors whose heartbeat stopped (they died for good)."""

    async def work() -> dict[str, list[str]]:
        settings = runtime().settings
        engine = executors.connect(settings.database())
        resumed: dict[str, list[str]] = {}
        try:
            for executor_id in executors.stale(engine, settings.executor_timeout):
                if executor_id == DBOS.executor_id:
                    continue
                pending = await DBOS.list_workflows_async(
                    status="PENDING", executor_id=executor_id, load_input=False, load_output=False
                )
                for w in pending:
                    await DBOS.resume_workflow_async(w.workflow_id, queue_name=queue_for(w.name))
                resumed[executor_id] = [w.workflow_id for w in pending]
                executors.forget(engine, executor_id)
                log.warning("executor %s is silent: resumed %d jobs", executor_id, len(pending))
        finally:
            engine.dispose()
        return resumed

    return await _guard("fail_over", work)


@DBOS.step(name="forget_marks")
async def forget_marks() -> Outcome:
    """Submission marks only answer a step re-run, which cannot come after the window; the
    stored results of a failed job wait that long for a retry."""

    async def work() -> int:
        url = runtime().settings.database()
        await asyncio.to_thread(parts.forget_older_than, url, 2 * WINDOW)
        window = runtime().settings.metrics_job_window
        await asyncio.to_thread(job_index.prune, url, window)
        return await asyncio.to_thread(marks.forget_older_than, url, 2 * WINDOW)

    return await _guard("forget_marks", work)


def surplus(batch: dict[str, Any], record: dict[str, Any] | None) -> bool:
    """Is ``batch`` a second one for a part its running job already follows another batch
    for? That happens when a submit step crashed with a create in flight: its re-run did not
    see that batch yet and made its own. Only one may run to completion (both would be paid),
    and the job follows the one it recorded, so the other is cancelled."""
    recorded = (record or {}).get("batches") or []
    if any(b.get("id") == batch["id"] for b in recorded):
        return False
    return any(
        b.get("endpoint") == batch.get("endpoint")
        and str(b.get("attempt", 0)) == batch.get("attempt")
        for b in recorded
    )


async def _surplus(batch: dict[str, Any], record: dict[str, Any] | None) -> bool:
    if batch.get("group"):  # a collector round's batch: the parts table knows its siblings
        url, round_id = runtime().settings.database(), round_of(batch["job"])
        return bool(await parts.run(parts.surplus, url, batch["id"], batch["group"], round_id))
    return surplus(batch, record)


@DBOS.step(name="followers_alive")
async def followers_alive() -> Outcome:
    async def work() -> bool:
        settings = runtime().settings
        # A follower reads its batches at least every max_poll_interval — with OpenAI
        # webhooks, every webhook_poll_interval (the event wakes it; the read is the safety
        # net). Judged by the shorter one, a follower waiting on webhooks looked dead after
        # 8.5 minutes, and every minute's sweep listed again: ~20 calls per round each
        # half hour it waited.
        cadence = settings.max_poll_interval
        if settings.openai_webhook_secret is not None:
            cadence = max(cadence, settings.webhook_poll_interval)
        within = 1.5 * cadence + 60
        url = settings.database()
        alive: bool = await parts.run(parts.followed, url, within)
        # A submit step that ran again after a crash may have had a create in flight: that
        # batch can land after the re-run looked, and only a listing finds it (a surplus).
        rerun = await asyncio.to_thread(marks.any_since, url, RESUBMITTED, LATE_CREATE)
        return alive and not rerun

    return await _guard("followers_alive", work)


@DBOS.step(name="full_sweep_due")
async def full_sweep_due(at: float) -> Outcome:
    """The first tick of each ``sweep_full_every`` period, across every worker: a mark per
    period, so a tick that two schedulers run, or that comes late, does not sweep fully twice."""

    async def work() -> bool:
        settings = runtime().settings
        period = int(at // settings.sweep_full_every)
        return await marks.claim_async(settings.database(), f"full-sweep:{period}")

    return await _guard("full_sweep_due", work)


@DBOS.workflow(name="sweep")
async def sweep(scheduled_at: datetime, context: Any) -> None:
    """The scheduled entry point: a full sweep (back to the 24 h window) once every
    ``BATCHCOOK_SWEEP_FULL_EVERY`` seconds (an hour); in between, a regular one only if a
    follower has stopped reading its batches (the followers already watch every live batch:
    listing them again every minute would double the calls a slow recipe costs)."""
    await fail_over()
    full = bool((await full_sweep_due(scheduled_at.timestamp())).get("ok"))
    if full or not (await followers_alive()).get("ok"):
        await sweep_once(full=full)
    await forget_marks()


@DBOS.workflow(name="sweep_once")
async def sweep_once(full: bool = True) -> dict[str, Any]:
    """Refresh, wake, cancel and clean. A regular (not ``full``) sweep pages back only to
    the oldest running job — all active batches — or ``BATCHCOOK_SWEEP_RECENT`` seconds
    (ten minutes) when none runs; the full
    sweep, hourly, reaches the 24 h window for older orphans and leftover files."""
    since = 0.0
    if not full:
        oldest = await oldest_waiting_job()
        start = oldest.get("ok") or time.time() - runtime().settings.sweep_recent
        since = start - CLOCK_SKEW
    listed = await list_our_batches(since)
    if "error" in listed:
        return listed
    settings = runtime().settings
    cancel: list[str] = []
    delete: list[str] = []
    woken: list[str] = []
    for batch in listed["ok"]:
        job_id = batch["job"]
        status = await DBOS.get_workflow_status_async(job_id)
        record: Any = None
        if status is not None:
            record = await DBOS.get_event_async(job_id, JOB_EVENT, timeout_seconds=0)
        job_status = (record or {}).get("status")
        job_done = (
            status is None
            or job_status in ("succeeded", "failed")
            or status.status
            in (
                "SUCCESS",
                "ERROR",
                "CANCELLED",
            )
        )
        active = batch["status"] not in TERMINAL
        mine = batch.get("mine", False)  # never cancel or delete another install's batches
        # A job that failed for a passing cause (429s, 5xx, a cut-off download, a lock) may
        # not have stored what its batches produced: their files are paid results, kept.
        kept = bool(((record or {}).get("error") or {}).get("transient"))
        if job_done and active and mine and batch["status"] != "cancelling":
            cancel.append(batch["id"])  # an orphan, or its job no longer wants it
        elif job_done and not active and mine and not kept and settings.delete_files:
            delete.extend(batch["files"])  # else they expire by themselves (BATCHCOOK_FILE_TTL)
        elif not job_done and active and mine and await _surplus(batch, record):
            cancel.append(batch["id"])  # a second batch for a part already in another
        elif not job_done and not active and job_id not in woken:
            await DBOS.send_async(job_id, {"batch": batch["id"]}, topic=watch.WAKE_TOPIC)
            woken.append(job_id)
    deleted = 0
    if cancel or delete:
        acted = await sweep_act(cancel, delete)
        if "error" in acted:
            return acted
        deleted = acted["ok"]["deleted"]
    return {"cancelled": cancel, "deleted": deleted, "woken": woken}
