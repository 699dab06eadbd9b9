"""The pure parts of the CLI's job handling: input checks, orphan detection, the status view."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from rich.console import Console

from batchcook.cli_jobs import InputError, build_job, check_mode, render
from batchcook.config import Settings
from batchcook.jobs import BatchState, Job
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


def test_status_view_shows_each_batch_with_counts() -> None:
    job = Job(id="create-1", kind="create", prompt="soup", status="generating")
    job.batches = [
        BatchState(
            id="batch_a",
            endpoint="/v1/responses",
            status="in_progress",
            completed=0,
            total=1,
            failed=1,
        )
    ]
    console = Console(width=120, record=True)
    console.print(render(job, job.id, 0.0))
    text = console.export_text()
    assert "create-1  generating" in text
    assert "  responses   batch_a" in text and "batch_a  in_progress 0/1 done, 1 failed" in text
