"""The API under load: `batchcook serve` (API and worker in one process, SQLite, the
embedded default) against a bare FastAPI app that does one SQLite insert per request.

Both emulators run in processes of their own (`batchcook emulate`), as a real OpenAI and
Notion would be elsewhere. Each app gets the same load: REQUESTS `POST /api/recipes` from
CONCURRENCY clients at once. While `serve` takes it, and then while its jobs run, a scraper
(a process of its own, as Prometheus would be) reads `/metrics` every two seconds. Every job
must end; none may fail (a "database is locked" would).

Printed: requests/s and p50/p99 latency for each app, their ratios (serve / bare), client
timeouts, the slowest `/metrics` answer under load, and how the jobs ended. The goal:
serve ≥ 0.5× the bare app's requests/s, p99 ≤ 3× the bare p99, `/metrics` ≤ 1 s.

Usage: python bench/load.py [--requests 2000] [--concurrency 50] [--worker-process]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from batchcook.testing.server import free_port

BARE_APP = """
import sqlite3, sys, threading
from fastapi import FastAPI, Request

app = FastAPI()
db = sqlite3.connect(sys.argv[1], check_same_thread=False)
db.execute("CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, prompt TEXT)")
lock = threading.Lock()


@app.post("/api/recipes", status_code=202)
async def create(request: Request) -> dict:
    body = await request.json()
    with lock:
        cur = db.execute("INSERT INTO jobs (prompt) VALUES (?)", (body["prompt"],))
        db.commit()
    return {"message": "Recipe creation in progress", "job_id": str(cur.lastrowid)}


@app.get("/healthz")
async def healthz() -> dict:
    return {"ok": True}
"""


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_until(check: Any, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (httpx.HTTPError, OSError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


async def load(url: str, requests: int, concurrency: int, scrape: str | None) -> dict[str, Any]:
    """Fire the requests; with ``scrape``, read that URL every 2 s meanwhile."""
    latencies: list[float] = []
    codes: Counter[str] = Counter()
    job_ids: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency + 2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one_client() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                try:
                    r = await client.post(
                        f"{url}/api/recipes", json={"prompt": f"load test dish {i}"}
                    )
                    codes[str(r.status_code)] += 1
                    if r.status_code == 202:
                        job_ids.append(r.json()["job_id"])
                except httpx.TimeoutException:
                    codes["timeout"] += 1
                except httpx.HTTPError as err:
                    codes[type(err).__name__] += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        with scraper(scrape) as scrapes:
            await asyncio.gather(*(one_client() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": requests / wall,
        "p50": statistics.median(latencies),
        "p99": latencies[int(0.99 * (len(latencies) - 1))],
        "codes": dict(codes),
        "job_ids": job_ids,
        "scrape_max": max(scrapes, default=float("nan")),
        "scrapes": len(scrapes),
    }


SCRAPER = """
import select, sys, time, httpx
while True:
    started = time.perf_counter()
    try:
        httpx.get(sys.argv[1], timeout=60)
    except httpx.HTTPError:
        pass
    print(time.perf_counter() - started, flush=True)
    if select.select([sys.stdin], [], [], 2)[0]:  # stdin closed: the load has ended
        break
"""


@contextmanager
def scraper(url: str | None) -> Iterator[list[float]]:
    """Read ``url`` every 2 s from a process of its own, as Prometheus would: timed inside
    the load generator's event loop, a scrape would also count that loop's own lag under 50
    busy clients. The list holds each scrape's seconds once the block ends."""
    times: list[float] = []
    if url is None:
        yield times
        return
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRAPER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield times
    finally:
        out, _ = proc.communicate(timeout=90)  # closes stdin; the scrape under way ends
        times.extend(float(line) for line in out.split())


def job_outcomes(url: str, job_ids: list[str], timeout: float) -> Counter[str]:
    """Wait until every job ended; how they ended (and why, for failures)."""
    ended: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=30) as client:
        while len(ended) < len(job_ids) and time.monotonic() < deadline:
            for job_id in job_ids:
                if job_id in ended:
                    continue
                job = client.get(f"{url}/api/jobs/{job_id}").json()
                if job["status"] == "succeeded":
                    ended[job_id] = "succeeded"
                elif job["status"] == "failed":
                    ended[job_id] = f"failed: {job['error']['message'][:80]}"
            time.sleep(1)
    outcomes = Counter(ended.values())
    outcomes["not ended"] = len(job_ids) - len(ended)
    return outcomes


def run(requests: int, concurrency: int, worker_process: bool = False) -> None:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHCOOK_", "DBOS"))}
        openai_port, notion_port, serve_port, bare_port = (free_port() for _ in range(4))
        emulate = [python, "-m", "batchcook", "emulate"]
        with (
            process([*emulate, "openai", "--port", str(openai_port)], base, tmp / "openai.log"),
            process(
                [*emulate, "notion", "--port", str(notion_port), "--rate", "0"],
                base,
                tmp / "notion.log",
            ),
        ):
            notion_env = wait_until(
                lambda: _env_lines(tmp / "notion.log"), "the Notion emulator", 60
            )
            env = {
                **base,
                **notion_env,
                "OPENAI_API_KEY": "sk-load-bench",
                "OPENAI_BASE_URL": f"http://127.0.0.1:{openai_port}/v1",
                "BATCHCOOK_DATA_DIR": str(tmp / "data"),
                "BATCHCOOK_POLL_INTERVAL": "1",
                "BATCHCOOK_IMAGE_SIZE": "1024x1024",
                "BATCHCOOK_IMAGE_QUALITY": "low",
                "BATCHCOOK_NOTION_REQUESTS_PER_SECOND": "1000",
            }
            serve_url = f"http://127.0.0.1:{serve_port}"
            serve_cmd = [python, "-m", "batchcook", "serve", "--port", str(serve_port)]
            worker_cmd = [python, "-m", "batchcook", "worker"]
            with (
                process(serve_cmd + ["--no-worker"] * worker_process, env, tmp / "serve.log"),
                process(worker_cmd if worker_process else ["true"], env, tmp / "worker.log"),
            ):
                wait_until(lambda: httpx.get(f"{serve_url}/healthz").is_success, "serve", 60)
                served = asyncio.run(load(serve_url, requests, concurrency, f"{serve_url}/metrics"))
                with scraper(f"{serve_url}/metrics") as running_scrapes:
                    outcomes = job_outcomes(serve_url, served["job_ids"], 900)
            locked = (tmp / "serve.log").read_text(errors="replace").count("database is locked")

        bare_url = f"http://127.0.0.1:{bare_port}"
        (tmp / "bare.py").write_text(BARE_APP)
        bare_cmd = [python, "-c", _uvicorn(tmp / "bare.py", tmp / "bare.sqlite", bare_port)]
        with process(bare_cmd, base, tmp / "bare.log"):
            wait_until(lambda: httpx.get(f"{bare_url}/healthz").is_success, "the bare app", 60)
            bare = asyncio.run(load(bare_url, requests, concurrency, None))

    print(f"{requests} POST /api/recipes, {concurrency} concurrent clients")
    print(f"{'app':<6} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}  answers")
    for name, r in (("bare", bare), ("serve", served)):
        print(
            f"{name:<6} {r['rps']:>7.1f} {r['p50'] * 1000:>7.0f} {r['p99'] * 1000:>7.0f}"
            f"  {r['codes']}"
        )
    print(
        f"serve / bare: req/s {served['rps'] / bare['rps']:.2f}x (goal >= 0.5x), "
        f"p99 {served['p99'] / bare['p99']:.2f}x (goal <= 3x)"
    )
    print(
        f"/metrics under load: slowest of {served['scrapes']} scrapes "
        f"{served['scrape_max']:.2f} s; while the jobs ran, slowest of {len(running_scrapes)} "
        f"{max(running_scrapes, default=float('nan')):.2f} s (goal <= 1 s)"
    )
    print(f"jobs: {dict(outcomes)}; 'database is locked' in the log: {locked}")


def _env_lines(log: Path) -> dict[str, str] | None:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    pairs = dict(line.split("=", 1) for line in lines if "=" in line and line[:1].isupper())
    return pairs if "NOTION_TOKEN" in pairs else None


def _uvicorn(app_file: Path, database: Path, port: int) -> str:
    return (
        "import sys, runpy, uvicorn; "
        f"sys.argv = ['bare', {str(database)!r}]; "
        f"app = runpy.run_path({str(app_file)!r})['app']; "
        f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning')"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="serve --no-worker plus a `batchcook worker` process, instead of serve alone",
    )
    args = parser.parse_args()
    run(args.requests, args.concurrency, args.worker_process)


if __name__ == "__main__":
    main()
