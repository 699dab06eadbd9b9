"""Starting DBOS for this process, and starting or reading jobs.

One process may be an API server, a worker, or a CLI running a job in-process; all share
the system database (SQLite under the data dir by default, Postgres by
``BATCHCOOK_DATABASE_URL``), so a job started anywhere can be followed and resumed anywhere.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from dbos import DBOS, DBOSConfig, ScheduleInput, SetWorkflowID
from openai import AsyncOpenAI

from batchcook.config import Settings
from batchcook.errors import BatchcookError
from batchcook.jobs import TERMINAL_STATUSES, Job
from batchcook.workflows import collector, executors, recipes, sweep, watch
from batchcook.workflows.names import (
    COLLECT_QUEUE,
    JOB_EVENT,
    JOB_WORKFLOWS,
    QUEUE,
    SWEEP_QUEUE,
)
from batchcook.workflows.runtime import StoreFactory, configure

log = logging.getLogger(__name__)
WORKFLOWS = {"create": recipes.create_recipe, "modify": recipes.modify_recipe}


def dbos_config(settings: Settings) -> DBOSConfig:
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "name": "batchcook",
        "system_database_url": settings.database(),
        # Pinned: the default (a hash of the code) would orphan in-flight jobs on upgrade.
        "application_version": settings.app_version,
        "log_level": "WARNING",
        # Each process holds up to this many connections (+3 of ours): Postgres's
        # max_connections must cover every process.
        "sys_db_pool_size": settings.database_pool_size,
        "executor_id": settings.executor_id,
    }


_heartbeat: executors.Heartbeat | None = None


def _start(
    settings: Settings,
    openai: Callable[[], AsyncOpenAI] | None,
    store: StoreFactory | None,
    worker: bool,
) -> None:
    global _heartbeat
    configure(settings, openai=openai, store=store)
    executors.use_wal(settings.database())
    DBOS(config=dbos_config(settings))
    if not worker:
        DBOS.listen_queues([])  # an API-only process enqueues; workers elsewhere dequeue
    DBOS.launch()  # recovers this executor's unfinished jobs
    if worker:
        _heartbeat = executors.Heartbeat(
            settings.database(), DBOS.executor_id, settings.executor_timeout / 4
        ).start()


def launch(
    settings: Settings,
    *,
    openai: Callable[[], AsyncOpenAI] | None = None,
    store: StoreFactory | None = None,
    worker: bool = True,
) -> None:
    """Start DBOS in this process, outside an event loop (CLI, tests)."""
    _start(settings, openai, store, worker)
    DBOS.register_queue(QUEUE, **_queue_options(settings))
    DBOS.register_queue(SWEEP_QUEUE, **_sweep_queue_options(settings))
    DBOS.register_queue(COLLECT_QUEUE, **_sweep_queue_options(settings))
    if worker and settings.sweep_schedule:
        DBOS.apply_schedules([_sweep_schedule(settings)])


async def launch_async(
    settings: Settings,
    *,
    openai: Callable[[], AsyncOpenAI] | None = None,
    store: StoreFactory | None = None,
    worker: bool = True,
) -> None:
    """Start DBOS from inside a running event loop (the API server's lifespan) — but from a
    thread without one, so that DBOS runs the jobs on its own event loop thread, not on the
    server's: a thousand jobs starting then never sit between a request and its answer."""
    await asyncio.to_thread(_start, settings, openai, store, worker)
    await DBOS.register_queue_async(QUEUE, **_queue_options(settings))
    await DBOS.register_queue_async(SWEEP_QUEUE, **_sweep_queue_options(settings))
    await DBOS.register_queue_async(COLLECT_QUEUE, **_sweep_queue_options(settings))
    if worker and settings.sweep_schedule:
        await DBOS.apply_schedules_async([_sweep_schedule(settings)])


def _queue_options(settings: Settings) -> dict[str, Any]:
    """With ``job_start_rate``, jobs start at most that many a second across all workers: a
    burst of requests is answered sooner, its jobs starting over the next seconds. Off by
    default: jobs that start together share batches, and spreading 1,000 jobs over 50 s
    tripled the OpenAI calls per job (bench/slow_jobs.py)."""
    options: dict[str, Any] = {
        "worker_concurrency": settings.worker_concurrency,
        "polling_interval_sec": settings.queue_poll_seconds,
    }
    if settings.job_start_rate > 0:
        period = max(1.0, 1.0 / settings.job_start_rate)
        options["limiter"] = {"limit": round(settings.job_start_rate * period), "period": period}
    return options


def _sweep_queue_options(settings: Settings) -> dict[str, Any]:
    """Its own queue, one at a time: jobs asleep in their slots never hold the sweep up."""
    return {"worker_concurrency": 1, "polling_interval_sec": settings.queue_poll_seconds}


def _sweep_schedule(settings: Settings) -> ScheduleInput:
    """Once per tick across all workers (DBOS runs a schedule once, not once per process)."""
    return {
        "schedule_name": "batchcook-sweep",
        "workflow_fn": sweep.sweep,
        "schedule": settings.sweep_schedule,
        "queue_name": SWEEP_QUEUE,  # so workers run it, never an API-only process
    }


def shutdown() -> None:
    global _heartbeat
    if _heartbeat is not None:
        _heartbeat.stop()
        _heartbeat = None
    watch.stop()
    executors.dispose_shared()  # the marks' and the spend ledger's engines
    DBOS.destroy(destroy_registry=False)


async def start_job(job: Job, *, enqueue: bool = True) -> str:
    """Start ``job`` once: the job id is the workflow id, so a repeat attaches to the first."""
    with SetWorkflowID(job.id):
        if enqueue:
            handle = await DBOS.enqueue_workflow_async(
                QUEUE, WORKFLOWS[job.kind], job.model_dump(mode="json")
            )
        else:
            handle = await DBOS.start_workflow_async(
                WORKFLOWS[job.kind], job.model_dump(mode="json")
            )
    return handle.get_workflow_id()


# Workflow statuses that end a job whatever its record last said: it is reported failed.
DIED = ("ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")


async def get_job(job_id: str) -> Job | None:
    """The job record as last published, or as queued if its workflow has not started."""
    status = await DBOS.get_workflow_status_async(job_id)
    if status is None:
        return None
    record: Any = await DBOS.get_event_async(job_id, JOB_EVENT, timeout_seconds=0)
    if record is None:
        args = status.input.get("args") if isinstance(status.input, dict) else None
        if not args:
            return None
        job = Job.model_validate(args[0])
    else:
        job = Job.model_validate(record)
    if status.status in DIED and job.status not in ("succeeded", "failed"):
        job.status = "failed"
        if status.status == "CANCELLED":
            job.error = job.error or recipes.JobError(
                step="workflow",
                message="cancelled on request (batchcook cancel or POST /api/jobs/{id}/cancel); "
                "its unfinished batches were cancelled",
                type="JobCancelled",
            )
        job.error = job.error or recipes.JobError(
            step="workflow",
            message=f"workflow ended {status.status}: {status.error}",
            type="WorkflowError",
        )
    return job


class NotRetryable(BatchcookError, ValueError):
    """Only a failed job can be retried."""


async def wake(workflow_id: str, batch_id: str) -> bool:
    """Tell the workflow following ``batch_id`` (a job, or a collector round) that it
    changed, so it looks now instead of at its next poll. False: no such workflow here."""
    if await DBOS.get_workflow_status_async(workflow_id) is None:
        return False
    await DBOS.send_async(workflow_id, {"batch": batch_id}, topic=recipes.WAKE_TOPIC)
    return True


def new_attempt(old: Job) -> Job:
    """The job that retries ``old`` (which must have failed): same request, a new id, and
    ``retry_of`` so its workflow reuses what ``old`` paid for."""
    if old.status != "failed":
        raise NotRetryable(f"job {old.id} is {old.status}: only a failed job can be retried")
    return Job(
        id=f"{old.kind}-retry-{uuid.uuid4().hex[:12]}",
        kind=old.kind,
        prompt=old.prompt,
        mode=old.mode,
        database_id=old.database_id,
        page_id=old.page_id if old.kind == "modify" else None,
        retry_of=old.id,
    )


async def retry_job(job_id: str) -> Job | None:
    """Start a new attempt of a failed job that reuses every result the failed one paid for
    (the recipe text when only the image failed; both when only the page write failed) and
    generates only what is missing. None: no such job."""
    old = await get_job(job_id)
    if old is None:
        return None
    job = new_attempt(old)
    await start_job(job)
    return job


async def cancel_job(job_id: str) -> Job | None:
    """Stop a running job: its workflow ends at its next step, and it gives its parts up; a
    shared batch that no other job needs is cancelled on OpenAI (a cancelled batch still
    returns the lines it finished, and is billed only for those). A finished job is left as
    it is. None: no such job."""
    job = await get_job(job_id)
    if job is None or job.status in TERMINAL_STATUSES:
        return job
    await DBOS.cancel_workflow_async(job_id)
    await collector.abandon(job_id)
    return await get_job(job_id)


async def list_jobs(status: str | None = None, limit: int = 50) -> list[Job]:
    workflows = await DBOS.list_workflows_async(
        name=list(JOB_WORKFLOWS),
        sort_desc=True,
        limit=limit * 4 if status else limit,
        load_input=False,
        load_output=False,
    )
    jobs: list[Job] = []
    for w in workflows:
        try:
            job = await get_job(w.workflow_id)
        except ValueError as error:  # a record no current Job can read: skip, not fail all
            log.warning("job %s skipped in the listing: %s", w.workflow_id, error)
            continue
        if job is not None and (status is None or job.status == status):
            jobs.append(job)
        if len(jobs) >= limit:
            break
    return jobs
