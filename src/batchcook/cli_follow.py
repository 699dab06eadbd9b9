"""Following jobs as they run: ``create --wait``, ``create --file --wait``, ``jobs --follow``.

One view for one job or many: the count of jobs per status, each job with its cost — the
estimate (the most it can cost, priced from the catalog) until its actual costs are recorded,
then what it cost — and a progress bar per batch. On a terminal it is a live (rich) view;
anywhere else (piped, a log file, a test) it prints plain lines, each only when it changed,
so the output reads as a log and a test can assert on it.

Following only reads job records: the jobs run in a worker, a server, or the process that
follows them (``--wait``), so leaving the view (Ctrl-C) stops nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from batchcook.budget import estimate_job
from batchcook.config import Settings
from batchcook.jobs import JOB_STATUSES, TERMINAL_STATUSES, BatchState, Job

Reader = Callable[[str], Awaitable[Job | None]]
Estimator = Callable[[Job], float | None]
#: Jobs read at once (a server gets this many GETs in flight, a database this many queries).
READS_AT_ONCE = 8
#: Open jobs read per poll at the base interval; past this the polls space out (reading is
#: one GET, or two queries, per open job: 1,000 batch jobs need no 2 polls a second).
JOBS_PER_POLL = 50
STATUS_STYLE = {"succeeded": "green", "failed": "red"}


class Estimates:
    """Each job's estimate, priced once per job.

    The record does not carry it: the entry points price a job only to check a budget cap
    (pricing 1,000 prompts of a bulk request would hold the API for seconds). So it is
    priced here from what the record holds (kind, prompt, mode) with this process's settings
    and catalog, as ``create --dry-run`` does; a price that cannot be found (a model missing
    from the catalog) shows no estimate rather than stopping the view.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.known: dict[str, float | None] = {}

    def __call__(self, job: Job) -> float | None:
        if job.id not in self.known:
            self.known[job.id] = self._price(job)
        return self.known[job.id]

    def _price(self, job: Job) -> float | None:
        try:
            return estimate_job(job, self.settings).usd
        except (LookupError, ValueError):
            return None


def no_estimate(job: Job) -> float | None:
    return None


# --- what is shown --------------------------------------------------------------------------


def costed(job: Job) -> bool:
    """Its actual cost is known: costs are recorded once its results are read, and an ended
    job's costs are final (none: nothing was billed)."""
    return bool(job.costs) or job.status in TERMINAL_STATUSES


def cost_text(job: Job, estimate: float | None) -> str:
    """``est. ≤ $0.0333`` until the actual cost is known, then ``$0.0061 (est. ≤ $0.0333)``."""
    guess = None if estimate is None else f"est. ≤ ${estimate:.4f}"
    if not costed(job):
        return guess or "cost not known yet"
    actual = f"${job.cost_usd:.4f}"
    return f"{actual} ({guess})" if guess else actual


def status_counts(jobs: Sequence[Job]) -> str:
    """``2 generating, 1 succeeded``: in the order a job goes through them."""
    counts = [(s, sum(1 for j in jobs if j.status == s)) for s in JOB_STATUSES]
    return ", ".join(f"{n} {status}" for status, n in counts if n)


def total_text(jobs: Sequence[Job], estimate: Estimator, *, all_read: bool = True) -> str:
    """What the jobs cost so far and what the rest may cost; once every job is costed, the
    total and, beside it, what was estimated. ``all_read``: no job is still unread."""
    spent = sum(j.cost_usd for j in jobs if costed(j))
    if not all_read or any(not costed(j) for j in jobs):
        to_come = [e for j in jobs if not costed(j) and (e := estimate(j)) is not None]
        more = f", ≤ ${sum(to_come):.4f} more estimated" if to_come else ""
        return f"cost ${spent:.4f} so far{more}"
    guesses = [e for j in jobs if (e := estimate(j)) is not None]
    return f"total ${spent:.4f}" + (f" (est. ≤ ${sum(guesses):.4f})" if guesses else "")


def summary_text(jobs: Sequence[Job | None], estimate: Estimator) -> str:
    """``3 jobs: 2 generating, 1 succeeded · cost $0.0061 so far, ≤ $0.0667 more estimated``."""
    found = [j for j in jobs if j is not None]
    unread = len(jobs) - len(found)
    parts = [status_counts(found), f"{unread} not read yet" if unread else ""]
    counts = ", ".join(part for part in parts if part)
    total = total_text(found, estimate, all_read=not unread)
    return f"{len(jobs)} jobs: {counts} · {total}"


def label(job: Job) -> str:
    return repr(job.title or job.prompt[:40])


def job_text(job: Job, estimate: Estimator) -> str:
    """The job's line: id, status, cost (estimate, then actual), what it makes, its error."""
    line = f"{job.id}  {job.status:<10} {cost_text(job, estimate(job))}  {label(job)}"
    if job.error:
        line += f"  error ({job.error.step}): {job.error.message}"
    return line


def endpoint_name(batch: BatchState) -> str:
    return batch.endpoint.rsplit("/", 1)[-1]  # responses, generations: fits 80 columns


def batch_counts(batch: BatchState) -> str:
    failed = f", {batch.failed} failed" if batch.failed else ""
    return f"{batch.completed}/{batch.total} done{failed}"


def batch_text(job: Job, batch: BatchState) -> str:
    """A batch's line for a log: its job's id first, so lines of many jobs can interleave."""
    return (
        f"{job.id}  {endpoint_name(batch):<11} {batch.id}  {batch.status:<11} {batch_counts(batch)}"
    )


def plain_lines(
    ids: Sequence[str], jobs: dict[str, Job | None], estimate: Estimator
) -> dict[str, str]:
    """Every line of the view by a stable key (summary, job id, job id/batch id)."""
    lines: dict[str, str] = {}
    if len(ids) > 1:
        lines["summary"] = summary_text([jobs[i] for i in ids], estimate)
    for job_id in ids:
        job = jobs[job_id]
        if job is None:
            lines[job_id] = f"{job_id}  waiting for the job record…"
            continue
        lines[job_id] = job_text(job, estimate)
        for batch in job.batches:
            lines[f"{job_id}/{batch.id}"] = batch_text(job, batch)
    return lines


class PlainLog:
    """Off a terminal: print each line of the view when it is new or changed."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.shown: dict[str, str] = {}

    def show(self, lines: dict[str, str]) -> None:
        for key, line in lines.items():
            if self.shown.get(key) != line:
                self.console.print(line, markup=False, highlight=False, soft_wrap=True)
                self.shown[key] = line


def _batch_table(batches: Sequence[BatchState]) -> Table:
    grid = Table.grid(padding=(0, 1))
    for batch in batches:
        # Before OpenAI has counted the lines (total 0) the bar pulses.
        bar = ProgressBar(
            total=batch.total or None,
            completed=batch.completed + batch.failed,
            width=24,
            complete_style="yellow",
            finished_style="green",
        )
        grid.add_row(
            Text(f"  {endpoint_name(batch)}"),
            Text(batch.id, style="dim"),
            bar,
            Text(batch_counts(batch)),
            Text(batch.status, style=STATUS_STYLE.get(batch.status, "")),
        )
    return grid


def _job_block(
    job_id: str, job: Job | None, estimate: Estimator, suffix: str = ""
) -> list[RenderableType]:
    if job is None:
        return [Text(f"{job_id}  waiting for the job record…{suffix}", style="dim")]
    line = Text.assemble(
        (job.id, "bold"),
        "  ",
        (f"{job.status:<10}", STATUS_STYLE.get(job.status, "yellow")),
        f" {cost_text(job, estimate(job))}  {label(job)}{suffix}",
    )
    if job.error:
        line.append(f"  error ({job.error.step}): {job.error.message}", style="red")
    if job.status in TERMINAL_STATUSES or not job.batches:
        return [line]  # an ended job is one line: the running ones keep the room
    return [line, _batch_table(job.batches)]


def live_view(
    ids: Sequence[str], jobs: dict[str, Job | None], estimate: Estimator, elapsed: float
) -> Group:
    """The terminal view: a summary (many jobs), then running jobs with a bar per batch,
    then the ended ones, one line each (a long list is cut at the screen's bottom)."""
    clock = f"  {elapsed:5.1f}s"
    if len(ids) == 1:
        return Group(*_job_block(ids[0], jobs[ids[0]], estimate, clock))
    rows: list[RenderableType] = [
        Text(summary_text([jobs[i] for i in ids], estimate) + clock, style="bold")
    ]
    ended = {i for i in ids if (j := jobs[i]) is not None and j.status in TERMINAL_STATUSES}
    for job_id in [i for i in ids if i not in ended] + [i for i in ids if i in ended]:
        rows += _job_block(job_id, jobs[job_id], estimate)
    return Group(*rows)


# --- following ------------------------------------------------------------------------------


def _open(jobs: dict[str, Job | None]) -> list[str]:
    return [i for i, j in jobs.items() if j is None or j.status not in TERMINAL_STATUSES]


async def refresh(jobs: dict[str, Job | None], read: Reader) -> None:
    """Read again every job that has not ended (an ended job's record no longer changes);
    a job that reads as missing keeps what was last seen of it."""
    gate = asyncio.Semaphore(READS_AT_ONCE)

    async def one(job_id: str) -> tuple[str, Job | None]:
        async with gate:
            return job_id, await read(job_id)

    for job_id, job in await asyncio.gather(*(one(i) for i in _open(jobs))):
        if job is not None:
            jobs[job_id] = job


def pace(interval: float, open_jobs: int) -> float:
    """The pause between polls: ``interval``, longer when many jobs are open."""
    return interval * max(1.0, open_jobs / JOBS_PER_POLL)


@contextmanager
def _view(console: Console) -> Iterator[Live | None]:
    if not console.is_terminal:
        yield None
        return
    with Live(Group(), console=console, refresh_per_second=4) as live:
        yield live


async def follow_jobs(
    job_ids: Sequence[str],
    read: Reader,
    console: Console,
    *,
    estimate: Estimator = no_estimate,
    interval: float = 0.5,
    timeout: float | None = None,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> list[Job]:
    """Poll ``read`` for every job and show them until each one has ended; the last
    records, in the order of ``job_ids``. ``pause`` waits between polls (a test moves its
    jobs on there instead)."""
    ids = list(dict.fromkeys(job_ids))
    jobs: dict[str, Job | None] = dict.fromkeys(ids)
    started = time.monotonic()
    log = PlainLog(console)
    with _view(console) as live:
        while True:
            await refresh(jobs, read)
            if live is None:
                log.show(plain_lines(ids, jobs, estimate))
            else:
                live.update(live_view(ids, jobs, estimate, time.monotonic() - started))
            still = _open(jobs)
            if not still:
                return [j for j in jobs.values() if j is not None]
            if timeout is not None and time.monotonic() - started > timeout:
                raise TimeoutError(f"{len(still)} job(s) still running after {timeout:.0f}s")
            await pause(pace(interval, len(still)))
