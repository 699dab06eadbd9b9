"""OpenAI calls per job when N slow jobs run at once, through the real durable service.

Each run starts both emulators and the DBOS engine (SQLite unless --database-url), submits N
create jobs together and waits until all have succeeded. Every batch takes 20 minutes on
the emulator's clock (30 s validating, 18.5 min in progress, 90 s finalizing), so each job
goes through the 5-minute foreground wait, a placeholder page and the backed-off wait, as in
production with the default settings. To finish in minutes, the emulator's clock runs
``--speed`` times faster and every interval of the service (poll, foreground, backoff cap,
sweep) is divided by the same factor: the schedule of calls is the production one.

Printed per N: OpenAI calls per job, split into polls (list pages and retrieves, the part
that depends on N) and the rest (uploads, creates, downloads), and how often a job woke to
look (its parts_view steps: a read of the parts table, no OpenAI call), and on SQLite the
database's growth per job: the files' growth (a high-water mark: a file does not shrink when
rows are deleted) and the pages still in use once every job has ended ("kept"). Each N runs
in a fresh process and database.

With ``--webhooks`` the emulator posts ``batch.completed`` (etc.) events to the API's
``/api/openai/webhook``, served in this process, and ``OPENAI_WEBHOOK_SECRET`` is set: the
follower then polls only as a safety net (``BATCHCOOK_WEBHOOK_POLL_INTERVAL``, scaled too).

Usage: python bench/slow_jobs.py [N ...] [--speed 5] [--database-url URL] [--webhooks]
       (default N: 1 100 1000)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, closing, suppress
from pathlib import Path
from typing import Any

from dbos import DBOS
from pydantic import SecretStr
from sqlalchemy import func, select

from batchcook.api.app import create_app
from batchcook.config import Settings
from batchcook.jobs import Job, new_job_id
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator, ScaledClock
from batchcook.testing.server import serve
from batchcook.workflows import engine, parts
from batchcook.workflows.runtime import runtime

BATCH = BatchPlan(validating=30, in_progress=18.5 * 60, finalizing=90)  # 20 minutes in all
BATCH_MINUTES = 20
WHSEC = "whsec_" + base64.b64encode(b"bench-webhook-secret").decode()


def categorize(calls: dict[str, int], batches: int) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for path, n in calls.items():
        if path == "/v1/batches":
            kinds["create"] += batches
            kinds["poll"] += n - batches  # the rest are GET list pages
        elif re.fullmatch(r"/v1/batches/[^/]+", path):
            kinds["poll"] += n  # retrieve
        elif path.endswith("/cancel"):
            kinds["cancel"] += n
        elif path == "/v1/files":
            kinds["upload"] += n
        elif path.endswith("/content"):
            kinds["download"] += n
        elif re.fullmatch(r"/v1/files/[^/]+", path):
            kinds["delete"] += n
        else:
            kinds["other"] += n
    return kinds


async def drive(
    n: int, clock: ScaledClock, timeout: float, openai: OpenAIEmulator
) -> dict[str, Any]:
    jobs = [Job(id=new_job_id("create"), kind="create", prompt=f"slow dish {i}") for i in range(n)]
    started, virtual_start = time.monotonic(), clock.now()
    for job in jobs:
        await engine.start_job(job)
    submitted = time.monotonic() - started
    ids = [j.id for j in jobs]
    while True:
        rows = await DBOS.list_workflows_async(
            workflow_ids=ids, load_input=False, load_output=False
        )
        done = [r for r in rows if r.status in ("SUCCESS", "ERROR", "CANCELLED")]
        if len(done) == n:
            break
        if time.monotonic() - started > timeout:
            raise SystemExit(
                f"only {len(done)} of {n} jobs ended within {timeout:.0f} s; "
                + await _where(ids, openai)
            )
        await asyncio.sleep(1)
    wall, virtual = time.monotonic() - started, clock.now() - virtual_start
    created = [b.created_at for b in openai.state.batches.values()]
    first_batch = (min(created) - virtual_start) if created else float("nan")
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for job_id in ids:
        record = await engine.get_job(job_id)
        statuses[record.status if record else "missing"] += 1
        if record and record.error:
            errors[f"{record.error.step}: {record.error.message[:160]}"] += 1
    sample = ids[:: max(1, n // 20)]
    polls = 0
    for job_id in sample:
        steps = await DBOS.list_workflow_steps_async(job_id)
        polls += sum(1 for s in steps if s["function_name"] == "parts_view")
    return {
        "statuses": dict(statuses),
        "errors": dict(errors),
        "wall_s": round(wall, 1),
        "submit_s": round(submitted, 1),
        "virtual_min": round(virtual / 60, 1),
        "wakes_per_job": round(polls / len(sample), 1),
        "first_batch_s": round(first_batch, 1),  # virtual seconds from the first submit
    }


async def _where(ids: list[str], openai: OpenAIEmulator) -> str:
    """Where unfinished jobs stand: their statuses, their parts' states, the batches'."""
    jobs = [await engine.get_job(j) for j in ids]
    statuses = Counter(j.status if j else "missing" for j in jobs)
    url = runtime().settings.database()
    with parts._engine(url).begin() as conn:
        rows = conn.execute(select(parts.parts.c.state, func.count()).group_by("state"))
        states = dict(rows.tuples().all())
    batches = Counter(b.status for b in openai.state.batches.values())
    return f"jobs {dict(statuses)}, parts {states}, batches {dict(batches)}"


def emulators(speed: float) -> tuple[ScaledClock, OpenAIEmulator, NotionEmulator]:
    """Both emulators for a slow run: every batch takes BATCH on a clock ``speed`` times
    faster; Notion unpaced (its pacing is another benchmark's)."""
    clock = ScaledClock(speed)
    openai = OpenAIEmulator(clock=clock)
    openai.faults.default_batch = BATCH
    return clock, openai, NotionEmulator(rate=None)


def run_one(n: int, speed: float, database_url: str | None, webhooks: bool) -> dict[str, Any]:
    clock, openai, notion = emulators(speed)
    with (
        serve(openai.app) as openai_url,
        serve(notion.app) as notion_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        settings = Settings(
            openai_api_key=SecretStr("sk-bench"),
            openai_base_url=f"{openai_url}/v1",
            notion_token=SecretStr(notion.token),
            notion_base_url=notion_url,
            notion_recipes_database_id=notion.recipes_database_id,
            notion_user_id=notion.user_id,
            notion_requests_per_second=1000,  # Notion pacing is another benchmark's
            data_dir=Path(tmp),
            database_url=database_url,
            mode="batch",
            image_size="1024x1024",  # small images: this counts calls, not encoding time
            image_quality="low",
            poll_interval=10 / speed,
            poll_timeout=300 / speed,
            max_poll_interval=300 / speed,
            webhook_poll_interval=1800 / speed,
            openai_webhook_secret=SecretStr(WHSEC) if webhooks else None,
            batch_window=2,  # not scaled: jobs reach a round at our speed, not the clock's
            sweep_schedule=f"*/{max(1, round(60 / speed))} * * * * *",
            queue_poll_seconds=0.2,
            worker_concurrency=max(n, 1) + 10,  # the sweep shares the queue
        )
        engine.launch(settings)
        before, before_used = _database_bytes(Path(tmp)), _database_used_bytes(Path(tmp))
        try:
            timeout = BATCH_MINUTES * 60 / speed * 4 + 300
            with ExitStack() as stack:
                if webhooks:  # the API's webhook route, on the engine launched above
                    api = stack.enter_context(serve(create_app(settings, manage_engine=False)))
                    openai.send_webhooks(f"{api}/api/openai/webhook", WHSEC)
                result = asyncio.run(drive(n, clock, timeout, openai))
                openai.state.webhook = None
        finally:
            engine.shutdown()
        grown = _database_bytes(Path(tmp)) - before
        kept = _database_used_bytes(Path(tmp)) - before_used
        tables = _largest_tables(Path(tmp))
    kinds = categorize(openai.calls, len(openai.state.batches))
    total = sum(kinds.values())
    return {
        "n": n,
        **result,
        "batches": len(openai.state.batches),
        "db_kb_per_job": round(grown / 1024 / n, 1) if database_url is None else None,
        "db_kept_kb_per_job": round(kept / 1024 / n, 1) if database_url is None else None,
        "db_tables_kb": tables if database_url is None else None,
        "calls": total,
        "kinds": dict(kinds),
    }


def _database_used_bytes(folder: Path) -> int:
    """The SQLite databases' pages in use (free pages left by deleted rows excluded), after
    a checkpoint: what finished jobs keep, not the file's high-water mark."""
    used = 0
    for path in folder.rglob("*.sqlite*"):
        if not path.is_file() or path.name.endswith(("-wal", "-shm", "-journal")):
            continue
        with closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            free = db.execute("PRAGMA freelist_count").fetchone()[0]
            size = db.execute("PRAGMA page_size").fetchone()[0]
        used += (pages - free) * size
    return used


def _largest_tables(folder: Path, most: int = 8) -> dict[str, float]:
    """KB in use per table (and index) once the jobs ended, the largest first; and the
    bytes of DBOS's step outputs per step."""
    sizes: Counter[str] = Counter()
    for path in folder.rglob("*.sqlite*"):
        if path.is_file() and not path.name.endswith(("-wal", "-shm", "-journal")):
            with closing(sqlite3.connect(path)) as db:
                rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
                sizes.update({name: size for name, size in rows})
                with suppress(sqlite3.Error):  # DBOS's step outputs, by step
                    steps = db.execute(
                        "SELECT function_name, SUM(LENGTH(output)) FROM operation_outputs"
                        " GROUP BY function_name"
                    )
                    sizes.update({f"step {name}": size or 0 for name, size in steps})
    return {name: round(size / 1024, 1) for name, size in sizes.most_common(most)}


def _database_bytes(folder: Path) -> int:
    """The SQLite system database's size on disk (with its journal), in bytes."""
    return sum(f.stat().st_size for f in folder.rglob("*.sqlite*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jobs", nargs="*", type=int, default=[1, 100, 1000])
    parser.add_argument("--speed", type=float, default=5.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--webhooks", action="store_true", help="OpenAI webhooks on")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.jobs[0], args.speed, args.database_url, args.webhooks)))
        return
    print(
        f"{BATCH_MINUTES}-minute batches, clock x{args.speed:g}, database "
        f"{args.database_url or 'SQLite'}, webhooks {'on' if args.webhooks else 'off'}"
    )
    header = f"{'N':>5} {'calls/job':>9} {'polls/job':>9} {'rest/job':>8} {'wakes/job':>9}"
    print(
        header
        + f" {'wall s':>7} {'virtual min':>11} {'1st batch s':>11} {'db KB/job':>9}"
        + f" {'kept KB/job':>11}  statuses"
    )
    for n in args.jobs:
        cmd = [sys.executable, __file__, str(n), "--one", "--speed", str(args.speed)]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        if args.webhooks:
            cmd.append("--webhooks")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        polls = r["kinds"].get("poll", 0)
        print(
            f"{n:>5} {r['calls'] / n:>9.2f} {polls / n:>9.2f} {(r['calls'] - polls) / n:>8.2f}"
            f" {r['wakes_per_job']:>9.1f} {r['wall_s']:>7.1f} {r['virtual_min']:>11.1f}"
            f" {r['first_batch_s']:>11.1f} {r['db_kb_per_job'] or 0:>9.1f}"
            f" {r['db_kept_kb_per_job'] or 0:>11.1f}  {r['statuses']}  {r['kinds']}"
            f" batches={r['batches']}",
            flush=True,
        )
        if r.get("db_tables_kb"):
            print(f"      largest tables after the jobs ended (KB): {r['db_tables_kb']}")
        for error, count in r["errors"].items():
            print(f"      {count} x {error}", flush=True)


if __name__ == "__main__":
    main()
