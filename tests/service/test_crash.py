"""Crash and interrupt tests: real ``batchcook`` processes killed mid-job, on SQLite and on
PostgreSQL. The emulators run in this process (the OpenAI one on a manual clock, so a batch
stays in flight until the test moves time), and the job must finish with exactly one batch
per endpoint and exactly one page however the process died."""

from __future__ import annotations

import signal
import subprocess
import time

from cli_procs import World, batchcook, run, start, world_fixture  # noqa: F401

from batchcook.jobs import Job
from batchcook.testing.polling import wait_for_text

PROMPT = "make me pasta carbonara"


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
