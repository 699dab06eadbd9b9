"""The pure parts of the CLI's job handling: input checks, orphan detection, the live view of
jobs (``cli_follow``: plain lines off a terminal, the rich view on one)."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys

import pytest
from rich.console import Console

from batchcook.budget import estimate_job
from batchcook.cli_follow import Estimates, cost_text, follow_jobs, live_view, summary_text
from batchcook.cli_jobs import follow
from batchcook.config import Settings
from batchcook.inputs import InputError, build_job, check_mode
from batchcook.jobs import BatchState, Cost, Job, JobError
from batchcook.workflows.orphans import orphaned

HOST = socket.gethostname()


def test_inputs_are_checked_with_the_api_limits() -> None:
    settings = Settings(max_prompt_chars=10, mode="flex")
    assert build_job("create", "  soup  ", settings).prompt == "soup"
    assert build_job("create", "soup", settings).mode == "flex"  # BATCHCOOK_MODE by default
    assert build_job("create", "soup", settings, request_id="a b").id == "create-a-b"
    with pytest.raises(InputError, match="is 11 characters; the limit is 10"):
        build_job("create", "x" * 11, settings)
    with pytest.raises(InputError, match="unknown mode 'fast'"):
        check_mode("fast", settings)


def test_only_dead_cli_processes_on_this_host_are_orphans() -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert orphaned(f"cli-{HOST}-{dead.stdout.strip()}")
    assert not orphaned(f"cli-{HOST}-{os.getpid()}")  # ourselves
    assert not orphaned(f"cli-{HOST}-{os.getppid()}")  # alive
    assert not orphaned(f"cli-other-host-{dead.stdout.strip()}")  # cannot tell: leave it
    assert not orphaned("local") and not orphaned(None)


def estimate_of(job: Job) -> float | None:
    return {"create-a": 0.0333, "create-b": 0.05}.get(job.id)


def job(job_id: str, status: str = "queued", **fields: object) -> Job:
    return Job.model_validate(
        {"id": job_id, "kind": "create", "prompt": "soup", "status": status, **fields}
    )


def batch(batch_id: str, endpoint: str, status: str, done: int = 0, failed: int = 0) -> BatchState:
    return BatchState(
        id=batch_id, endpoint=endpoint, status=status, completed=done, failed=failed, total=1
    )


def paid(usd: float) -> list[Cost]:
    return [Cost(custom_id="x", model="m", tier="batch", input_tokens=1, output_tokens=1, usd=usd)]


def test_a_job_shows_its_estimate_until_its_actual_cost_is_known() -> None:
    assert cost_text(job("create-a", "generating"), 0.0333) == "est. ≤ $0.0333"
    assert cost_text(job("create-a", "writing", costs=paid(0.0061)), 0.0333) == (
        "$0.0061 (est. ≤ $0.0333)"
    )
    assert cost_text(job("create-a", "failed"), 0.0333) == "$0.0000 (est. ≤ $0.0333)"  # ended
    assert cost_text(job("create-a", "generating"), None) == "cost not known yet"
    assert cost_text(job("create-a", "succeeded", costs=paid(0.0061)), None) == "$0.0061"


def test_the_summary_counts_statuses_and_adds_up_spent_and_estimated() -> None:
    running = [job("create-a", "generating"), job("create-b", "succeeded", costs=paid(0.01))]
    assert summary_text([*running, None], estimate_of) == (
        "3 jobs: 1 generating, 1 succeeded, 1 not read yet · cost $0.0100 so far, "
        "≤ $0.0333 more estimated"
    )
    done = [job("create-a", "failed", costs=paid(0.002)), running[1]]
    assert summary_text(done, estimate_of) == (
        "2 jobs: 1 succeeded, 1 failed · total $0.0120 (est. ≤ $0.0833)"
    )


class Scripted:
    """Job records that move on one step between polls, as a worker would move them."""

    def __init__(self, *polls: dict[str, Job]) -> None:
        self.polls = polls
        self.step = 0
        self.reads: list[str] = []

    async def read(self, job_id: str) -> Job | None:
        self.reads.append(job_id)
        return self.polls[self.step].get(job_id)

    async def pause(self, seconds: float) -> None:
        assert self.step + 1 < len(self.polls), "followed past the last state"
        self.step += 1


def follow_plainly(scripted: Scripted, ids: list[str]) -> tuple[list[Job], list[str]]:
    """Follow with a console that is not a terminal (piped, a log): plain lines."""
    out = io.StringIO()
    console = Console(file=out, width=60)  # narrower than the lines: they must not wrap
    assert not console.is_terminal
    jobs = asyncio.run(
        follow_jobs(ids, scripted.read, console, estimate=estimate_of, pause=scripted.pause)
    )
    return jobs, out.getvalue().splitlines()


RESPONSES, IMAGES = "/v1/responses", "/v1/images/generations"


def test_following_jobs_off_a_terminal_prints_each_change_once() -> None:
    a_running = job("create-a", "generating", batches=[batch("batch_1", RESPONSES, "validating")])
    a_counted = a_running.model_copy(
        update={"batches": [batch("batch_1", RESPONSES, "in_progress", done=0, failed=1)]}
    )
    a_done = a_counted.model_copy(
        update={
            "status": "succeeded",
            "costs": paid(0.0061),
            "title": "Soup",
            "batches": [batch("batch_1", RESPONSES, "completed", done=0, failed=1)],
        }
    )
    b_failed = job(
        "create-b",
        "failed",
        error=JobError(step="poll_batches", message="batch expired", type="BatchExpired"),
    )
    scripted = Scripted(
        {"create-a": job("create-a")},  # create-b's record is not there yet
        {"create-a": a_running, "create-b": job("create-b")},
        {"create-a": a_running, "create-b": job("create-b")},  # nothing changed: no line
        {"create-a": a_counted, "create-b": b_failed},
        {"create-a": a_done, "create-b": b_failed},
    )
    jobs, lines = follow_plainly(scripted, ["create-a", "create-b"])
    assert [j.status for j in jobs] == ["succeeded", "failed"]
    assert lines == [
        "2 jobs: 1 queued, 1 not read yet · cost $0.0000 so far, ≤ $0.0333 more estimated",
        "create-a  queued     est. ≤ $0.0333  'soup'",
        "create-b  waiting for the job record…",
        "2 jobs: 1 queued, 1 generating · cost $0.0000 so far, ≤ $0.0833 more estimated",
        "create-a  generating est. ≤ $0.0333  'soup'",
        "create-a  responses   batch_1  validating  0/1 done",
        "create-b  queued     est. ≤ $0.0500  'soup'",
        "2 jobs: 1 generating, 1 failed · cost $0.0000 so far, ≤ $0.0333 more estimated",
        "create-a  responses   batch_1  in_progress 0/1 done, 1 failed",
        "create-b  failed     $0.0000 (est. ≤ $0.0500)  'soup'  error (poll_batches): "
        "batch expired",
        "2 jobs: 1 succeeded, 1 failed · total $0.0061 (est. ≤ $0.0833)",
        "create-a  succeeded  $0.0061 (est. ≤ $0.0333)  'Soup'",
        "create-a  responses   batch_1  completed   0/1 done, 1 failed",
    ]
    # An ended job is not read again: create-b once failed, create-a up to its end.
    assert scripted.reads.count("create-b") == 4 and scripted.reads.count("create-a") == 5


def test_following_one_job_has_no_summary_and_returns_its_last_record() -> None:
    done = job("create-a", "succeeded", costs=paid(0.0061))
    scripted = Scripted({"create-a": job("create-a", "submitted")}, {"create-a": done})
    out = io.StringIO()
    followed = asyncio.run(
        follow(
            "create-a", scripted.read, Console(file=out), estimate=estimate_of, pause=scripted.pause
        )
    )
    assert followed == done
    assert out.getvalue().splitlines() == [
        "create-a  submitted  est. ≤ $0.0333  'soup'",
        "create-a  succeeded  $0.0061 (est. ≤ $0.0333)  'soup'",
    ]


def test_the_terminal_view_has_a_bar_per_running_batch_and_ended_jobs_last() -> None:
    running = job(
        "create-a",
        "generating",
        batches=[
            batch("batch_1", RESPONSES, "in_progress"),
            batch("batch_2", IMAGES, "completed", 1),
        ],
    )
    ended = job(
        "create-b",
        "succeeded",
        costs=paid(0.02),
        batches=[batch("batch_3", RESPONSES, "completed", 1)],
    )
    console = Console(width=120, record=True, force_terminal=True)
    console.print(
        live_view(
            ["create-b", "create-a"], {"create-a": running, "create-b": ended}, estimate_of, 2.0
        )
    )
    text = console.export_text()
    first, *rest = text.splitlines()
    assert first.startswith("2 jobs: 1 generating, 1 succeeded · cost $0.0200 so far")
    assert rest[0].startswith("create-a  generating est. ≤ $0.0333")
    assert (
        "batch_1" in rest[1]
        and "━" in rest[1]
        and "0/1 done" in rest[1]
        and "in_progress" in rest[1]
    )
    assert "batch_2" in rest[2] and "1/1 done" in rest[2]
    assert rest[3].startswith("create-b  succeeded  $0.0200 (est. ≤ $0.0500)")
    assert "batch_3" not in text  # an ended job is one line


def test_estimates_are_priced_once_per_job_and_a_missing_price_shows_none() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    soup = build_job("create", "soup", settings)
    estimates = Estimates(settings)
    assert estimates(soup) == pytest.approx(estimate_job(soup, settings).usd)
    assert estimates.known == {soup.id: estimates(soup)}
    unpriced = Estimates(settings.model_copy(update={"text_model": "gpt-not-in-the-catalog"}))
    assert unpriced(soup) is None
    assert cost_text(soup, unpriced(soup)) == "cost not known yet"
