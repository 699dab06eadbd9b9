"""What every entry point does with jobs, written once.

The HTTP API, the Notion webhook, the gallery's form and the CLI all call these functions and
only translate the outcome: a status code, an exit code, a page. So a job is validated,
priced, checked and admitted the same way wherever it comes from (validation itself is
``inputs.build_job``).

The errors a caller has to answer, and how the two main callers answer them::

    inputs.InputError        bad prompt, mode, database id...   422    exit 2
    NotReady                 would fail after paying (doctor)   422    exit 2
                             ...because Notion or OpenAI is down 503   exit 1
    budget.BudgetExceeded    a spending cap                      429    exit 2
    NoSuchJob                unknown job id                      404    exit 1
    engine.NotRetryable      retry of a job that did not fail    409    exit 1
    AlreadyEnded             cancel of a job that ended          409    exit 0 (says so)
    BadEvent, NeedsNotion    a Notion event we cannot act on     400, 501

Opening the engine is here too (:func:`local_engine`, :func:`serving_engine`): the executor
id, DBOS's launch, adopting the jobs of dead CLI runs, and the shutdown, in that order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import date
from typing import Any

import openai

from batchcook import budget
from batchcook.config import Settings
from batchcook.doctor import Check, SchemaCache, preflight
from batchcook.errors import BatchcookError
from batchcook.generation.batch.facts import JOB_METADATA
from batchcook.generation.estimate import Estimate
from batchcook.jobs import TERMINAL_STATUSES, Job, new_job_id
from batchcook.stores.base import TakesComments
from batchcook.stores.notion import webhook
from batchcook.stores.notion.errors import NotionAPIError
from batchcook.workflows import collector, engine, marks, parts
from batchcook.workflows.engine import NotRetryable
from batchcook.workflows.orphans import adopt_orphans, use_cli_executor
from batchcook.workflows.runtime import runtime

log = logging.getLogger(__name__)

__all__ = [
    "AlreadyEnded",
    "BadEvent",
    "NeedsNotion",
    "NoSuchJob",
    "NotReady",
    "NotRetryable",
    "admit",
    "cancel",
    "estimate",
    "latest",
    "local_engine",
    "modify_from_comment",
    "next_attempt",
    "read",
    "retry",
    "serving_engine",
    "start",
    "wake_for_batch",
]


class NotReady(BatchcookError):
    """The job would fail after its batches are paid for (the doctor's checks said so):
    nothing was sent. ``outage`` when the cause is a service being down, not a setting."""

    def __init__(self, problems: list[Check]) -> None:
        super().__init__("; ".join(f"{p.check}: {p.detail}" for p in problems))
        self.problems = problems

    @property
    def outage(self) -> bool:
        return any(p.outage for p in self.problems)


class NoSuchJob(BatchcookError, LookupError):
    """No job with this id in the system database."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r}")
        self.job_id = job_id


class AlreadyEnded(BatchcookError):
    """A cancel of a job that had already ended: nothing was stopped (``job`` is it)."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} already ended ({job.status}): nothing to cancel")
        self.job = job


# --- before anything is paid -----------------------------------------------------------------


def estimate(jobs: Iterable[Job], settings: Settings) -> list[Estimate]:
    """The most each job can cost (a dry run): nothing is checked, reserved or sent."""
    return [budget.estimate_job(job, settings) for job in jobs]


async def admit(
    jobs: list[Job],
    settings: Settings,
    *,
    today: date | None = None,
    cache: SchemaCache | None = None,
) -> None:
    """Refuse what would fail after paying (:class:`NotReady`), then admit the jobs under
    the budget caps, reserving their estimates (``budget.BudgetExceeded``). One check per
    mode and database, not per prompt of a bulk request."""
    checked: set[tuple[str, str | None]] = set()
    for job in jobs:
        if (job.mode, job.database_id) in checked:
            continue
        problems = await preflight(
            settings, mode=job.mode, database_id=job.database_id, today=today, cache=cache
        )
        if problems:
            raise NotReady(problems)
        checked.add((job.mode, job.database_id))
    if budget.capped(settings):  # a thread hop per request costs, even to do nothing
        await asyncio.to_thread(budget.admit, jobs, settings)


# --- with the engine running ------------------------------------------------------------------


async def start(jobs: list[Job], *, enqueue: bool = True) -> None:
    """Start each job once (its id is its workflow id: a repeat attaches to the first).
    ``enqueue=False`` runs them in this process (``--wait``) instead of on a worker."""
    for job in jobs:
        await engine.start_job(job, enqueue=enqueue)


async def read(job_id: str) -> Job:
    """The job's record (:class:`NoSuchJob` when there is none)."""
    job = await engine.get_job(job_id)
    if job is None:
        raise NoSuchJob(job_id)
    return job


async def latest(status: str | None = None, limit: int = 50) -> list[Job]:
    """The latest jobs, newest first (only those in ``status``)."""
    return await engine.list_jobs(status=status, limit=limit)


async def next_attempt(job_id: str) -> Job:
    """The job that would retry ``job_id`` (not started): :class:`NotRetryable` unless it
    failed."""
    return engine.new_attempt(await read(job_id))


async def retry(
    job_id: str,
    settings: Settings,
    *,
    enqueue: bool = True,
    today: date | None = None,
    cache: SchemaCache | None = None,
) -> Job:
    """Start a new attempt of a failed job. It reuses every result the failed one paid for,
    so it is admitted at the most it can cost anew."""
    job = await next_attempt(job_id)
    await admit([job], settings, today=today, cache=cache)
    await start([job], enqueue=enqueue)
    return job


async def cancel(job_id: str) -> Job:
    """Stop a running job and give up its parts (a shared batch no other job needs is
    cancelled on OpenAI; its finished lines stay billed)."""
    before = await read(job_id)
    if before.status in TERMINAL_STATUSES:
        raise AlreadyEnded(before)
    job = await engine.cancel_job(job_id)
    assert job is not None  # it existed a moment ago, and job records are not deleted
    return job


# --- a #modify comment on a recipe page --------------------------------------------------------


class BadEvent(BatchcookError):
    """A signed Notion event that does not hold what a ``comment.created`` event must."""


class NeedsNotion(BatchcookError):
    """``#modify`` comments come from Notion: without NOTION_TOKEN there is nothing to read."""


async def modify_from_comment(
    settings: Settings, event: dict[str, Any], *, now: float
) -> Job | str:
    """The job a signed Notion event asks for, started; or why it starts nothing.

    Whatever is deliberately ignored comes back as a reason, not an error: Notion re-sends an
    event answered with anything but 2xx, and re-sending will not change the answer. One job
    per comment, whatever the event id: a replayed or re-sent event finds its job started.
    """
    kind = event.get("type")
    if kind != "comment.created":
        return f"event type {kind!r}"
    if any((a or {}).get("type") == "bot" for a in event.get("authors") or []):
        return "comment written by an integration"
    entity = event.get("entity")
    comment_id = entity.get("id") if isinstance(entity, dict) else None
    if not isinstance(event.get("id"), str) or not isinstance(comment_id, str):
        raise BadEvent("malformed comment.created event: no id or entity.id")
    stale = webhook.event_too_old(event.get("timestamp"), now, settings.webhook_max_age)
    if stale is not None:
        log.warning("Notion event %s ignored: %s", event["id"][:64], stale)
        return stale
    async with runtime().store(None) as store:
        if not isinstance(store, TakesComments):
            raise NeedsNotion("the #modify webhook needs the Notion store (NOTION_TOKEN)")
        try:
            page_id, text, author = await store.read_comment(comment_id)
        except NotionAPIError as error:
            if error.code not in ("object_not_found", "validation_error"):
                raise
            return "no such comment (or not shared)"
        if author == await store.integration_id():
            return "our own comment"
        change = webhook.modify_request(text)
        if change is None:
            return "comment does not start with #modify"
        if not await store.is_recipe_page(page_id):
            return "page is not in the recipes database"
    if len(change) > settings.max_prompt_chars:
        return "the requested change is too long"
    job = Job(id=new_job_id("modify", comment_id), kind="modify", prompt=change, page_id=page_id)
    try:
        await asyncio.to_thread(budget.admit, [job], settings)
    except budget.BudgetExceeded as refused:
        log.warning("#modify on page %s refused: %s", page_id, refused)
        return str(refused)
    await start([job])
    return job


async def wake_for_batch(settings: Settings, batch_id: str, delivery: str) -> str:
    """An OpenAI ``batch.*`` event: wake the workflow following ``batch_id`` (a job or a
    collector round) now rather than at its next poll. What was done, in words: OpenAI needs
    only a 2xx, and polling stays the safety net whatever happens here."""
    if delivery and not await marks.claim_async(settings.database(), f"openai-webhook:{delivery}"):
        return f"ignored: delivery {delivery} was already handled"
    # A shared batch's round is on record here: no call to OpenAI to learn whose it is.
    round_id = await parts.run(parts.round_of_batch, settings.database(), batch_id)
    if round_id is not None:
        ours = collector.follower_id(round_id)
        if await engine.wake(ours, batch_id):
            return f"woke job {ours}"
    try:
        async with runtime().openai() as client:
            batch = await client.batches.retrieve(batch_id)
    except openai.NotFoundError:
        return f"ignored: batch {batch_id} is not in this project"
    follower = (batch.metadata or {}).get(JOB_METADATA)
    if not follower or not await engine.wake(follower, batch_id):
        return f"ignored: batch {batch_id} is not one of our jobs'"
    return f"woke job {follower}"


# --- opening the engine ---------------------------------------------------------------------


@contextmanager
def local_engine(
    settings: Settings, *, worker: bool, cli: bool = True
) -> Iterator[tuple[Settings, list[str]]]:
    """DBOS on the system database for one command: yields the settings in use and the ids
    of the jobs it adopted.

    ``cli`` gives this process an executor id of its own (``cli-<host>-<pid>``), so that
    opening the database never recovers — steals — what a live worker is running; the
    ``worker`` command keeps ``DBOS__VMID`` so a restart recovers its predecessor's jobs.
    ``worker`` also runs jobs here, after adopting the jobs of dead CLI runs on this host.
    """
    if cli:
        settings = use_cli_executor(settings)
    engine.launch(settings, worker=worker)
    try:
        adopted = asyncio.run(adopt_orphans()) if worker else []
        yield settings, adopted
    finally:
        engine.shutdown()


@asynccontextmanager
async def serving_engine(settings: Settings, *, worker: bool) -> AsyncIterator[None]:
    """DBOS for the API server, started from inside its event loop (see
    ``engine.launch_async``); a worker also adopts the jobs of dead CLI runs on this host."""
    await engine.launch_async(settings, worker=worker)
    try:
        if worker:
            await adopt_orphans()
        yield
    finally:
        engine.shutdown()
