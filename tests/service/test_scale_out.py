"""Scale-out on PostgreSQL: 2 API processes and 3 workers share 200 jobs; one worker is
SIGKILLed mid-run and never restarted. Every job must still succeed — its jobs resumed by
the survivors' failover sweep — with exactly one page each and no request batched twice."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from cli_procs import (
    JobReader,
    api_healthy,
    batchcook,
    fresh_database,
    postgres_available,
    process_env,
    run,
    start,
    stop,
)
from sqlalchemy import func, select

from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator, SystemClock
from batchcook.testing.polling import poll, wait_for_text
from batchcook.testing.server import free_port, serve
from batchcook.workflows import parts

JOBS = int(os.environ.get("BATCHCOOK_SCALE_JOBS", "200"))


@pytest.mark.skipif(not postgres_available(), reason="PostgreSQL is not reachable")
def test_two_apis_three_workers_one_killed(tmp_path: Path) -> None:
    openai = OpenAIEmulator(clock=SystemClock())
    openai.faults.default_batch = BatchPlan(validating=0.5, in_progress=3, finalizing=0.5)
    notion = NotionEmulator(rate=None)
    with (
        serve(openai.app) as openai_url,
        serve(notion.app) as notion_url,
        fresh_database("postgres", tmp_path) as database_url,
    ):
        env = process_env(
            database_url,
            tmp_path / "data",
            openai_url,
            notion_url,
            notion,
            BATCHCOOK_POLL_INTERVAL="1",
            BATCHCOOK_WORKER_CONCURRENCY="25",
            BATCHCOOK_DATABASE_POOL_SIZE="5",  # all processes within max_connections 100
            BATCHCOOK_SWEEP_SCHEDULE="*/5 * * * * *",
            BATCHCOOK_EXECUTOR_TIMEOUT="15",
            BATCHCOOK_IMAGE_SIZE="1024x1024",
            BATCHCOOK_IMAGE_QUALITY="low",
        )
        assert run(batchcook("jobs"), env, tmp_path).returncode == 0  # creates the schema
        procs = []
        ports = [free_port(), free_port()]
        try:
            for i, port in enumerate(ports):
                api_env = {**env, "DBOS__VMID": f"api-{i}"}
                procs.append(
                    start(
                        batchcook("serve", "--no-worker", "--port", str(port)),
                        api_env,
                        tmp_path / f"api-{i}.log",
                    )
                )
            workers = {}
            for i in range(3):
                name = f"worker-{i}"
                workers[name] = start(
                    batchcook("worker"), {**env, "DBOS__VMID": name}, tmp_path / f"{name}.log"
                )
                procs.append(workers[name])
            for port in ports:
                poll(lambda p=port: api_healthy(p), f"API on port {port}", 30)
            for name in workers:
                wait_for_text(tmp_path / f"{name}.log", f"worker {name} on")

            started = time.monotonic()
            job_ids = []
            for i in range(JOBS):
                port = ports[i % 2]
                r = httpx.post(
                    f"http://127.0.0.1:{port}/api/recipes",
                    json={"prompt": f"dish number {i}", "request_id": f"scale-{i}"},
                )
                assert r.status_code == 202, r.text
                job_ids.append(r.json()["job_id"])

            reader = JobReader(database_url)
            try:
                # Kill a worker while it holds jobs in flight.
                victim = "worker-1"
                poll(lambda: _holds_jobs(reader, victim), f"{victim} running jobs", 60)
                workers[victim].kill()
                workers[victim].wait(10)
                killed_at = time.monotonic()

                def all_done() -> list[str] | None:
                    states = [reader.job(j) for j in job_ids]
                    done = [
                        j for j in states if j is not None and j.status in ("succeeded", "failed")
                    ]
                    return [j.id for j in done] if len(done) == JOBS else None

                try:
                    poll(all_done, f"all {JOBS} jobs to end", 480, interval=1)
                except TimeoutError as stuck:
                    raise AssertionError(
                        _diagnose(stuck, reader, job_ids, database_url, tmp_path)
                    ) from None
                finished_at = time.monotonic()
                elapsed = finished_at - started
                jobs = [reader.job(j) for j in job_ids]
            finally:
                reader.close()
        finally:
            stop(procs)

    failed = [(j.id, j.error) for j in jobs if j is not None and j.status != "succeeded"]
    assert failed == []
    pages = notion.pages()
    assert len(pages) == JOBS
    assert sorted(j.page_id for j in jobs if j) == sorted(p.id for p in pages)  # one each
    batches_per_request = Counter(
        json.loads(line)["custom_id"]
        for b in openai.state.batches.values()
        if b.status not in ("cancelled", "cancelling")
        for line in openai.state.files[b.input_file_id].data.splitlines()
    )
    assert max(batches_per_request.values()) == 1, "a request was batched twice"
    assert len(batches_per_request) == 2 * JOBS
    assert len(openai.state.batches) < 2 * JOBS  # requests of many jobs share batches
    failover = [
        line
        for name in ("worker-0", "worker-2")
        for line in (tmp_path / f"{name}.log").read_text().splitlines()
        if "executor worker-1 is silent: resumed" in line
    ]
    assert failover, "the survivors never resumed the killed worker's jobs"
    print(
        json.dumps(
            {
                "jobs": JOBS,
                "elapsed_s": round(elapsed, 1),
                "killed_after_s": round(killed_at - started, 1),
                "finished_after_kill_s": round(finished_at - killed_at, 1),
                "failover": failover[0].split(": ", 1)[-1],
            }
        )
    )


def _diagnose(
    stuck: TimeoutError, reader: JobReader, job_ids: list[str], database_url: str, logs: Path
) -> str:
    """What a timed-out run leaves to read in CI's output: where the jobs and their parts
    stand, and each process's last lines."""
    jobs = [reader.job(j) for j in job_ids]
    lines = [str(stuck), f"jobs: {Counter(j.status if j else None for j in jobs)}"]
    with parts._engine(database_url).begin() as conn:
        states = conn.execute(select(parts.parts.c.state, func.count()).group_by("state"))
        lines.append(f"parts: {dict(states.tuples().all())}")
        rows = conn.execute(select(parts.batches.c.status, func.count()).group_by("status"))
        lines.append(f"batches: {dict(rows.tuples().all())}")
    open_jobs = [j for j in jobs if j and j.status not in ("succeeded", "failed")][:3]
    lines += [
        f"open job: {j.model_dump_json(include={'id', 'status', 'batches'})}" for j in open_jobs
    ]
    for log in sorted(logs.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-25:]
        lines += [f"--- {log.name}", *tail]
    return "\n".join(lines)


def _holds_jobs(reader: JobReader, executor: str) -> bool:
    pending = reader.client.list_workflows(
        status="PENDING", executor_id=executor, load_input=False, load_output=False
    )
    return len(pending) >= 5
