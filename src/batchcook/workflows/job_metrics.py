"""The ``batchcook_jobs*`` gauges: read from the durable job records at scrape time.

They live beside the workflows because they read the workflows' records; they are
registered into ``batchcook.instrument.REGISTRY`` so one exposition serves both kinds.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dbos import DBOS
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from batchcook import instrument
from batchcook.generation.catalog import Usage, load_catalog
from batchcook.jobs import TERMINAL_STATUSES, Job
from batchcook.workflows import engine
from batchcook.workflows.names import JOB_WORKFLOWS

log = logging.getLogger(__name__)
RECORD_WINDOW = 1000  # job records the batchcook_jobs* gauges cover (the latest ones)
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
    records; ``collect()`` (sync, from the exposition) reports the last snapshot. Finished
    jobs' records never change, so they are cached: a scrape reads one workflow listing
    plus the records of unfinished jobs."""

    def __init__(self, window: int = RECORD_WINDOW) -> None:
        self.window = window
        self.snapshot: Snapshot | None = None
        self._finished: dict[str, Job] = {}

    async def refresh(self, catalog_path: Any = None) -> Snapshot:
        # No lock: two concurrent scrapes both read, and the last one's cache stays.
        workflows = await DBOS.list_workflows_async(
            name=list(JOB_WORKFLOWS),
            sort_desc=True,
            limit=self.window,
            load_input=False,
            load_output=False,
        )
        jobs: list[Job] = []
        for w in workflows:
            job = self._finished.get(w.workflow_id) or await engine.get_job(w.workflow_id)
            if job is not None:
                jobs.append(job)
        self._finished = {j.id: j for j in jobs if j.status in TERMINAL_STATUSES}
        self.snapshot = summarize(jobs, catalog_path)
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


async def exposition(catalog_path: Any = None) -> bytes:
    """The text exposition: process counters plus freshly read job-record gauges. If the
    records cannot be read, the scrape still answers, without the batchcook_jobs* gauges."""
    try:
        await JOB_RECORDS.refresh(catalog_path)
    except Exception as err:
        log.warning("metrics: could not read job records: %s", err)
        JOB_RECORDS.snapshot = None
    return instrument.exposition()
