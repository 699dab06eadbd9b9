"""OpenAI calls when several workers share the jobs, against one worker: on PostgreSQL.

Shared batches promise that calls grow with collector rounds, not with jobs or workers: a
round is one DBOS workflow deduplicated across every process, its follower polls for all
its jobs, and the sweep lists only when a follower went quiet. Here N jobs (default 300)
are queued with ``batchcook create --file`` and run by 1, then by 3 ``batchcook worker``
processes on a fresh PostgreSQL database each, every batch taking 20 emulated minutes on an
emulator clock ``--speed`` times faster (the service's intervals scaled alike, as in
``slow_jobs.py``). Printed per run: OpenAI calls per job (polls and the rest), batches,
wall time, how the jobs ended; then the ratio of the 3-worker calls to the 1-worker calls
in the same session (goal: at most 1).

Without webhooks the follower of a round polls every ``BATCHCOOK_POLL_INTERVAL`` for the
foreground (``BATCHCOOK_POLL_TIMEOUT``, scaled to 30 s here) from when its batches were
created: a lone worker busy starting 300 jobs may begin following after that and so skip
those polls, which the 3-worker run makes. ``--webhooks`` takes the foreground out of the
comparison: a ``batchcook serve --no-worker`` process takes the emulator's signed
``batch.*`` events (``OPENAI_WEBHOOK_SECRET`` set everywhere) and wakes the follower.

Usage: python bench/workers_calls.py [--jobs 300] [--speed 10] [--workers 1 3] [--webhooks]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
from kill_trials import (  # type: ignore[import-not-found]
    batchcook,
    fresh_database,
    start_worker,
    stop_worker,
    worker_env,
)
from slow_jobs import WHSEC, categorize, emulators  # type: ignore[import-not-found]

from batchcook.testing.polling import poll
from batchcook.testing.server import free_port, serve
from batchcook.workflows.names import JOB_WORKFLOWS


def scaled(speed: float, jobs: int) -> dict[str, str]:
    """The default intervals, ``speed`` times shorter (the 2 s collection window is not),
    over the crash trials' worker environment."""
    return {
        "BATCHCOOK_POLL_INTERVAL": str(10 / speed),
        "BATCHCOOK_POLL_TIMEOUT": str(300 / speed),
        "BATCHCOOK_MAX_POLL_INTERVAL": str(300 / speed),
        "BATCHCOOK_SWEEP_SCHEDULE": f"*/{max(1, round(60 / speed))} * * * * *",
        "BATCHCOOK_SWEEP_FULL_EVERY": str(3600 / speed),
        "BATCHCOOK_EXECUTOR_TIMEOUT": "60",
        "BATCHCOOK_WORKER_CONCURRENCY": str(jobs + 10),
        "BATCHCOOK_OPENAI_MAX_RETRIES": "5",
    }


def job_states(database_url: str) -> dict[str, int]:
    names = ", ".join(f"'{n}'" for n in JOB_WORKFLOWS)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f"SELECT status, count(*) FROM dbos.workflow_status WHERE name IN ({names})"
            " GROUP BY status"
        ).fetchall()
    return {status: n for status, n in rows}


def start_api(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``batchcook serve --no-worker``: where OpenAI's webhook events arrive."""
    port = free_port("127.0.0.1")
    out = log.open("wb")
    proc = subprocess.Popen(
        batchcook("serve", "--no-worker", "--port", str(port)),
        env={**env, "DBOS__VMID": "api"},
        cwd=log.parent,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"the API exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    poll(up, "the API to start", 60, interval=0.2)
    return proc, url


def run(workers: int, jobs: int, speed: float, webhooks: bool = False) -> dict[str, Any]:
    _, openai, notion = emulators(speed)
    with (
        serve(openai.app) as openai_url,
        serve(notion.app) as notion_url,
        tempfile.TemporaryDirectory() as tmp,
        fresh_database("postgres", Path(tmp)) as database_url,
        ExitStack() as stack,
    ):
        env = {
            **worker_env(database_url, Path(tmp), openai_url, notion_url, notion),
            **scaled(speed, jobs),
        }
        if webhooks:
            env["OPENAI_WEBHOOK_SECRET"] = WHSEC
            env["BATCHCOOK_WEBHOOK_POLL_INTERVAL"] = str(1800 / speed)
            api, api_url = start_api(env, Path(tmp) / "api.log")
            stack.callback(stop_worker, api)
            openai.send_webhooks(f"{api_url}/api/openai/webhook", WHSEC)
            stack.callback(setattr, openai.state, "webhook", None)  # stops its ticker
        prompts = Path(tmp) / "prompts.txt"
        prompts.write_text("".join(f"shared soup {i}\n" for i in range(jobs)))
        procs = [
            start_worker(env, f"worker-{i}", Path(tmp) / f"worker-{i}.log") for i in range(workers)
        ]
        for proc in procs:
            stack.callback(stop_worker, proc)
        started = time.monotonic()
        queued = subprocess.run(
            batchcook("create", "--file", str(prompts)), env=env, capture_output=True, text=True
        )
        if queued.returncode != 0:
            raise SystemExit(f"create --file failed: {queued.stderr[-2000:]}")

        def ended() -> dict[str, int] | None:
            states = job_states(database_url)
            done = sum(n for s, n in states.items() if s not in ("PENDING", "ENQUEUED"))
            return states if done >= jobs else None

        timeout = 20 * 60 / speed * 4 + 300
        states = poll(ended, f"{jobs} jobs to end with {workers} workers", timeout, interval=1)
        wall = time.monotonic() - started
    kinds = categorize(openai.calls, len(openai.state.batches))
    return {
        "workers": workers,
        "calls": sum(kinds.values()),
        "kinds": dict(kinds),
        "batches": len(openai.state.batches),
        "wall_s": round(wall, 1),
        "states": states,
        "pages": len(notion.pages()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--webhooks", action="store_true", help="OpenAI webhooks on")
    args = parser.parse_args()
    print(
        f"{args.jobs} jobs, 20-minute batches, clock x{args.speed:g}, PostgreSQL, "
        f"webhooks {'on' if args.webhooks else 'off'}"
    )
    print(f"{'workers':>7} {'calls':>6} {'calls/job':>9} {'polls':>6} {'batches':>7} {'wall s':>7}")
    results = []
    for workers in args.workers:
        r = run(workers, args.jobs, args.speed, args.webhooks)
        results.append(r)
        polls = r["kinds"].get("poll", 0)
        print(
            f"{workers:>7} {r['calls']:>6} {r['calls'] / args.jobs:>9.3f} {polls:>6}"
            f" {r['batches']:>7} {r['wall_s']:>7.1f}  jobs {r['states']}  pages {r['pages']}"
            f"  {r['kinds']}",
            flush=True,
        )
    if len(results) > 1:
        base = results[0]["calls"]
        for r in results[1:]:
            print(
                f"{r['workers']} workers / {results[0]['workers']}: calls "
                f"{r['calls'] / base:.2f}x (goal <= 1)"
            )


if __name__ == "__main__":
    main()
