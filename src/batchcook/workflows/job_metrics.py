"""The ``batchcook_jobs*`` gauges: read at scrape time from the job index (``job_index``),
one small row a job that each job writes as it publishes its record.

They live beside the workflows because they read the workflows' records; they are
registered into ``batchcook.instrument.REGISTRY`` so one exposition serves both kinds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dbos import DBOS
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from batchcook import instrument
from batchcook.config import Settings
from batchcook.generation.catalog import Usage, load_catalog
from batchcook.jobs import TERMINAL_STATUSES, Job
from batchcook.single_flight import SingleFlight
from batchcook.workflows import engine, job_index
from batchcook.workflows.names import JOB_WORKFLOWS

log = logging.getLogger(__name__)
SCRAPE_WAIT = 0.25  # seconds a scrape waits for fresh records before answering with the last
READERS = 16  # job records read at once
CONTENT_TYPE = instrument.CONTENT_TYPE


@dataclass
class Snapshot:
    """What the latest job records say, aggregated."""

    scanned: int = 0
    jobs: Tally[tuple[str, str, str]] = field(default_factory=Tally)  # status, kind, mode
    cost: defaultdict[tuple[str, str, str], float] = field(  # model, tier, mode
        default_factory=lambda: defaultdict(float)
    )
    savings: defaultdict[tuple[str, str, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    resubmissions: Tally[str] = field(default_factory=Tally)  # endpoint


def summarize(jobs: Iterable[Job], catalog_path: Any = None) -> Snapshot:
    """Aggregate job records. Savings = the same tokens at the standard price minus at the
    tier billed (0 for standard); models missing from the catalog add cost, no savings."""
    catalog = load_catalog(catalog_path)
    snap = Snapshot()
    for job in jobs:
        snap.scanned += 1
        snap.jobs[(job.status, job.kind, job.mode)] += 1
        for cost in job.costs:
            key = (cost.model, cost.tier, job.mode)
            snap.cost[key] += cost.usd
            if cost.tier == "standard" or catalog.find(cost.model) is None:
                snap.savings[key] += 0.0
                continue
            usage = Usage(input_tokens=cost.input_tokens, output_tokens=cost.output_tokens)
            try:
                standard = catalog.cost(cost.model, "standard", usage)
                billed = catalog.cost(cost.model, cost.tier, usage)  # type: ignore[arg-type]
            except ValueError:  # no standard (or tier) price listed
                snap.savings[key] += 0.0
                continue
            snap.savings[key] += max(0.0, standard - billed)
        for batch in job.batches:
            if batch.attempt > 0:
                snap.resubmissions[batch.endpoint] += 1
    return snap


class JobRecords(Collector):
    """The ``batchcook_jobs*`` gauges. ``refresh()`` (async, from the route) reads the
    records; ``collect()`` (sync, from the exposition) reports the last snapshot. A scrape
    reads one workflow listing (with inputs: a job not started yet is counted from its
    request) and one query of the job index; finished jobs never change, so they are cached.
    Only a finished job missing from the index (pruned, or older than it) costs a record
    read, once."""

    def __init__(self, window: int = 1000) -> None:
        self.window = window  # the latest jobs covered: BATCHCOOK_METRICS_JOB_WINDOW
        self.snapshot: Snapshot | None = None
        self.read_at: float | None = None
        self._finished: dict[str, Job] = {}
        self._reading: SingleFlight[Snapshot] = SingleFlight()

    async def fresh(
        self, catalog_path: Any = None, wait: float = SCRAPE_WAIT, url: str | None = None
    ) -> None:
        """Read the records, waiting at most ``wait`` seconds: under load (a thousand jobs
        starting) a read takes longer than a scraper should wait, so the scrape answers
        with the last snapshot (``batchcook_jobs_snapshot_age_seconds`` says how old) and
        the read goes on for the next one. One read at a time, however many scrapes."""
        task = self._reading.task(lambda: self.refresh(catalog_path, url), on_done=_log_failure)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), wait)

    async def refresh(self, catalog_path: Any = None, url: str | None = None) -> Snapshot:
        # No lock: two concurrent scrapes both read, and the last one's cache stays.
        workflows = await DBOS.list_workflows_async(
            name=list(JOB_WORKFLOWS),
            sort_desc=True,
            limit=self.window,
            load_input=True,
            load_output=False,
        )
        unknown = [w.workflow_id for w in workflows if w.workflow_id not in self._finished]
        indexed = await asyncio.to_thread(job_index.read, url, unknown) if url else {}
        readers = asyncio.Semaphore(READERS)

        async def record(w: Any) -> Job | None:
            if w.workflow_id in self._finished:
                return self._finished[w.workflow_id]
            job = indexed.get(w.workflow_id)
            if job is None and w.status in ("ENQUEUED", "PENDING"):
                job = job_index.from_input(w.input)  # not started, or not published yet
            elif job is None:
                async with readers:  # finished, and not in the index: read once
                    job = await engine.get_job(w.workflow_id)
            if job is not None and w.status in engine.DIED and job.status not in TERMINAL_STATUSES:
                job.status = "failed"  # as engine.get_job reports it
            return job

        found = await asyncio.gather(*(record(w) for w in workflows))
        jobs = [j for j in found if j is not None]
        self._finished = {j.id: j for j in jobs if j.status in TERMINAL_STATUSES}
        self.snapshot = summarize(jobs, catalog_path)
        self.read_at = time.time()
        return self.snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        scanned = GaugeMetricFamily(
            "batchcook_jobs_scanned",
            f"Job records the batchcook_jobs* gauges cover (the latest, at most {self.window}).",
        )
        scanned.add_metric([], snap.scanned)
        yield scanned
        if self.read_at is not None:
            age = GaugeMetricFamily(
                "batchcook_jobs_snapshot_age_seconds",
                "How long ago the job records behind the batchcook_jobs* gauges were read.",
            )
            age.add_metric([], round(time.time() - self.read_at, 3))
            yield age
        jobs = GaugeMetricFamily(
            "batchcook_jobs",
            "Jobs by status, kind and mode, among the latest job records.",
            labels=["status", "kind", "mode"],
        )
        for key, n in sorted(snap.jobs.items()):
            jobs.add_metric(list(key), n)
        yield jobs
        for name, doc, values in (
            (
                "batchcook_jobs_cost_usd",
                "USD spent by the latest jobs, by model, tier billed and job mode.",
                snap.cost,
            ),
            (
                "batchcook_jobs_savings_usd",
                "USD saved by the latest jobs against the standard price of the same tokens.",
                snap.savings,
            ),
        ):
            family = GaugeMetricFamily(name, doc, labels=["model", "tier", "mode"])
            for key, usd in sorted(values.items()):
                family.add_metric(list(key), round(usd, 9))
            yield family
        resubmitted = GaugeMetricFamily(
            "batchcook_jobs_batch_resubmissions",
            "Batches the latest jobs resubmitted for failed or expired lines (attempt > 0).",
            labels=["endpoint"],
        )
        for endpoint, n in sorted(snap.resubmissions.items()):
            resubmitted.add_metric([endpoint], n)
        yield resubmitted


JOB_RECORDS = JobRecords()
instrument.REGISTRY.register(JOB_RECORDS)


def _log_failure(task: asyncio.Task[Snapshot]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("metrics: could not read job records: %s", task.exception())


async def exposition(settings: Settings) -> bytes:
    """The text exposition: process counters plus job-record gauges, fresh unless reading
    them takes longer than a scrape should wait. If the records cannot be read, the scrape
    still answers, without the batchcook_jobs* gauges."""
    JOB_RECORDS.window = settings.metrics_job_window
    try:
        await JOB_RECORDS.fresh(settings.catalog_path, url=settings.database())
    except Exception as err:
        log.warning("metrics: could not read job records: %s", err)
        JOB_RECORDS.snapshot = None
    return instrument.exposition()
