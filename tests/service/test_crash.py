"""Crash and interrupt tests: real ``batchcook`` processes killed mid-job, on SQLite and on
PostgreSQL. The emulators run in this process (the OpenAI one on a manual clock, so a batch
stays in flight until the test moves time), and the job must finish with exactly one batch
per endpoint and exactly one page however the process died."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_procs import (
    JobReader,
    batchcook,
    fresh_database,
    postgres_available,
    process_env,
    run,
    start,
    wait_for_text,
)

from batchcook.jobs import Job
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, ManualClock, OpenAIEmulator
from batchcook.testing.server import serve

PROMPT = "make me pasta carbonara"
IN_FLIGHT = BatchPlan(validating=10, in_progress=100, finalizing=10)


@dataclass
class World:
    openai: OpenAIEmulator
    notion: NotionEmulator
    database_url: str
    env: dict[str, str]
    reader: JobReader
    tmp: Path

    def endpoints(self) -> Counter[str]:
        return Counter(b.endpoint for b in self.openai.state.batches.values())


@pytest.fixture(params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "postgres" and not postgres_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    openai = OpenAIEmulator(clock=ManualClock())
    openai.faults.default_batch = IN_FLIGHT
    notion = NotionEmulator(rate=None)
    with (
        serve(openai.app) as openai_url,
        serve(notion.app) as notion_url,
        fresh_database(request.param, tmp_path) as database_url,
    ):
        env = process_env(database_url, tmp_path / "data", openai_url, notion_url, notion)
        reader: JobReader | None = None
        try:
            # The first process on a fresh database creates its schema; the reader needs it.
            jobs = run(batchcook("jobs"), env, tmp_path)
            assert jobs.returncode == 0, jobs.stderr
            reader = JobReader(database_url)
            yield World(openai, notion, database_url, env, reader, tmp_path)
        finally:
            if reader is not None:
                reader.close()


def in_flight(job: Job) -> bool:
    return job.status == "generating" and len(job.batches) == 2


def finished(job: Job) -> bool:
    return job.status in ("succeeded", "failed")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout)


def assert_one_recipe(world: World, job: Job) -> None:
    assert job.status == "succeeded", job.error
    assert world.endpoints() == {"/v1/responses": 1, "/v1/images/generations": 1}
    pages = world.notion.pages()
    assert len(pages) == 1 and job.page_id == pages[0].id


def test_worker_killed_mid_batch_resumes_on_restart(world: World) -> None:
    """SIGKILL the worker while both batches are in flight; a restarted worker with the same
    executor id (DBOS__VMID) recovers the job: no second batch, one page."""
    env = {**world.env, "DBOS__VMID": "crash-test-worker"}
    started = time.monotonic()
    first = start(batchcook("worker"), env, world.tmp / "worker-1.log")
    try:
        wait_for_text(world.tmp / "worker-1.log", "worker crash-test-worker on")
        created = run(batchcook("create", PROMPT, "--request-id", "crash-1"), env, world.tmp)
        assert created.returncode == 0, created.stderr
        job_id = created.stdout.strip()
        assert job_id == "create-crash-1"
        job = world.reader.wait(job_id, in_flight, "generating with two batches", 30)
        assert {b.status for b in job.batches} <= {"validating", "in_progress"}
    finally:
        first.kill()  # SIGKILL: no shutdown code runs
        first.wait(10)
    killed_at = time.monotonic()
    assert world.endpoints() == {"/v1/responses": 1, "/v1/images/generations": 1}
    assert world.notion.pages() == []
    assert world.reader.job(job_id).status == "generating"  # type: ignore[union-attr]

    world.openai.advance(200)  # the batches finish while no worker is running
    second = start(batchcook("worker"), env, world.tmp / "worker-2.log")
    try:
        done = world.reader.wait(job_id, finished, "to finish after the restart", 30)
        resumed_in = time.monotonic() - killed_at
        assert stop(second) == 0  # SIGTERM: a clean shutdown
    finally:
        if second.poll() is None:
            second.kill()
    assert_one_recipe(world, done)
    log = (world.tmp / "worker-2.log").read_text()
    assert "stopping worker" in log
    assert "sk-test-secret-key" not in log and world.notion.token not in log
    print(
        f"crash test: killed after {killed_at - started:.1f}s, resumed+finished {resumed_in:.1f}s"
    )


def test_ctrl_c_on_create_wait_is_resumed_by_the_next_worker(world: World) -> None:
    """Ctrl-C on an in-process ``create --wait``: the job stays pending under that CLI's
    executor; the next worker (another executor id) sees the CLI is gone and adopts it."""
    log = world.tmp / "create.log"
    cli = start(batchcook("create", PROMPT, "--request-id", "ctrl-c", "--wait"), world.env, log)
    try:
        job = world.reader.wait("create-ctrl-c", in_flight, "generating with two batches", 30)
        assert stop(cli, signal.SIGINT) == 130
    finally:
        if cli.poll() is None:
            cli.kill()
    assert "interrupted: job create-ctrl-c is still pending" in log.read_text()
    assert world.reader.job(job.id).status == "generating"  # type: ignore[union-attr]

    world.openai.advance(200)
    worker = start(batchcook("worker"), world.env, world.tmp / "worker.log")
    try:
        wait_for_text(world.tmp / "worker.log", "adopted 1 job(s)")
        done = world.reader.wait(job.id, finished, "to finish after adoption", 30)
        assert stop(worker) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert_one_recipe(world, done)
