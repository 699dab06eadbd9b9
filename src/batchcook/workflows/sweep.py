"""The sweep: a DBOS scheduled workflow (every minute by default) that keeps OpenAI tidy.

- Refreshes every batch of ours with as few calls as possible: one ``GET /v1/batches`` page
  per 100 batches, newest first, back to the 24 h window — not one ``retrieve`` per batch.
- Wakes a job whose batch has ended, so a job backing off in ``waiting`` moves on at once.
- Finds batches that carry our ``batchcook_job`` metadata but whose job is gone (lost before
  it recorded them) or already finished, and cancels them: nothing runs unpaid-for or unseen.
- Deletes the input and result files of batches whose job has finished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from dbos import DBOS

from batchcook.generation.batch import BatchRunner
from batchcook.workflows import executors, marks, watch
from batchcook.workflows.runtime import QUEUE, runtime
from batchcook.workflows.steps import JOB_METADATA, Outcome, _guard

log = logging.getLogger(__name__)

TERMINAL = {"completed", "failed", "expired", "cancelled"}
WINDOW = 25 * 3600


@DBOS.step(name="list_our_batches")
async def list_our_batches() -> Outcome:
    async def work() -> list[dict[str, Any]]:
        cutoff = time.time() - WINDOW
        ours: list[dict[str, Any]] = []
        async with runtime().openai() as client:
            async for b in BatchRunner(client).list_batches():
                if b.created_at < cutoff:
                    break
                job_id = (b.metadata or {}).get(JOB_METADATA)
                if job_id:
                    files = [f for f in (b.input_file_id, b.output_file_id, b.error_file_id) if f]
                    ours.append({"id": b.id, "job": job_id, "status": b.status, "files": files})
        return ours

    return await _guard("list_our_batches", work)


@DBOS.step(name="sweep_act")
async def sweep_act(cancel: list[str], delete: list[str]) -> Outcome:
    async def work() -> dict[str, int]:
        async with runtime().openai() as client:
            runner = BatchRunner(client)
            await runner.cancel(cancel)
            await runner.delete_files(delete)
        return {"cancelled": len(cancel), "deleted": len(delete)}

    return await _guard("sweep_act", work)


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
                    await DBOS.resume_workflow_async(w.workflow_id, queue_name=QUEUE)
                resumed[executor_id] = [w.workflow_id for w in pending]
                executors.forget(engine, executor_id)
                log.warning("executor %s is silent: resumed %d jobs", executor_id, len(pending))
        finally:
            engine.dispose()
        return resumed

    return await _guard("fail_over", work)


@DBOS.step(name="forget_marks")
async def forget_marks() -> Outcome:
    """Submission marks only answer a step re-run, which cannot come after the window."""

    async def work() -> int:
        return await asyncio.to_thread(
            marks.forget_older_than, runtime().settings.database(), 2 * WINDOW
        )

    return await _guard("forget_marks", work)


@DBOS.workflow(name="sweep")
async def sweep(scheduled_at: datetime, context: Any) -> None:
    """The scheduled entry point."""
    await fail_over()
    await sweep_once()
    await forget_marks()


@DBOS.workflow(name="sweep_once")
async def sweep_once() -> dict[str, Any]:
    listed = await list_our_batches()
    if "error" in listed:
        return listed
    cancel: list[str] = []
    delete: list[str] = []
    woken: list[str] = []
    for batch in listed["ok"]:
        job_id = batch["job"]
        status = await DBOS.get_workflow_status_async(job_id)
        record: Any = None
        if status is not None:
            record = await DBOS.get_event_async(job_id, "job", timeout_seconds=0)
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
        if job_done and active and batch["status"] != "cancelling":
            cancel.append(batch["id"])  # an orphan, or its job no longer wants it
        elif job_done and not active:
            delete.extend(batch["files"])
        elif not job_done and not active and job_id not in woken:
            await DBOS.send_async(job_id, {"batch": batch["id"]}, topic=watch.WAKE_TOPIC)
            woken.append(job_id)
    if cancel or delete:
        acted = await sweep_act(cancel, delete)
        if "error" in acted:
            return acted
    return {"cancelled": cancel, "deleted": len(delete), "woken": woken}
