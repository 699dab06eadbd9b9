"""``batchcook create/modify/jobs --server URL``: the client side of the HTTP API.

The real API is built on another branch; until it lands, this serves a small stand-in that
answers the documented contract (routes, bodies, 202/404/401, bearer auth) and records what
it was sent. After the merge this test should run against ``batchcook.api.app`` instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from batchcook.jobs import BatchState, Job, JobError
from batchcook.testing.polling import wait_for_text
from batchcook.testing.server import free_port, serve

KEY = "bc-secret-api-key"


class Problem(Exception):
    """The API's error shape: ``{"error": {"message": …}}`` with a 4xx status."""

    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


class StandIn:
    """The API contract, with jobs that advance one state per status read."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.jobs: dict[str, Job] = {}
        self.bodies: list[dict[str, Any]] = []
        self.reads = 0
        app = self.app

        @app.exception_handler(Problem)
        async def problem(request: Request, exc: Problem) -> JSONResponse:
            return JSONResponse({"error": {"message": exc.message}}, status_code=exc.status)

        def auth(request: Request) -> None:
            if request.headers.get("authorization") != f"Bearer {KEY}":
                raise Problem(401, "missing or wrong API key")

        @app.post("/api/recipes", status_code=202)
        async def create(request: Request) -> dict[str, str]:
            auth(request)
            body = await request.json()
            self.bodies.append(body)
            job = Job(id=f"create-{body['request_id']}", kind="create", prompt=body["prompt"])
            self.jobs[job.id] = job
            return {"message": "Recipe creation in progress", "job_id": job.id, "status_url": ""}

        @app.post("/api/jobs/modify", status_code=202)
        async def modify(request: Request) -> dict[str, str]:
            auth(request)
            body = await request.json()
            self.bodies.append(body)
            job = Job(id="modify-1", kind="modify", prompt=body["request"], page_id=body["page_id"])
            self.jobs[job.id] = job
            return {"message": "Recipe modification in progress", "job_id": job.id}

        @app.get("/api/jobs/{job_id}")
        async def status(job_id: str, request: Request) -> dict[str, Any]:
            auth(request)
            if job_id not in self.jobs:
                raise Problem(404, f"no job {job_id!r}")
            job = self.jobs[job_id]
            self.reads += 1
            if job.status == "queued":
                job.status = "generating"
                job.batches = [BatchState(id="batch_1", endpoint="/v1/responses", total=1)]
            elif job.status == "generating" and "slow" in job.prompt:
                pass  # in flight until the test ends
            elif job.status == "generating" and "burnt" in job.prompt:
                job.status = "failed"
                job.error = JobError(step="poll_batches", message="batch expired", type="Expired")
            elif job.status == "generating":
                job.status = "succeeded"
                job.page_id, job.page_url = "page-1", "https://notion.so/page-1"
            return job.public()

        @app.get("/api/jobs")
        async def listing(request: Request) -> dict[str, Any]:
            auth(request)
            return {"jobs": [j.public() for j in self.jobs.values()]}


PAGE_ID = "0123456789abcdef0123456789abcdef"
PAGE_URL = f"https://www.notion.so/Pasta-Carbonara-{PAGE_ID}?pvs=4"  # as copied from Notion


def cli(*args: str, key: str | None = KEY, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHCOOK_", "NOTION_"))}
    env["BATCHCOOK_DATA_DIR"] = str(cwd)
    if key:
        env["BATCHCOOK_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "batchcook", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_and_modify_through_a_server(tmp_path: Path) -> None:
    api = StandIn()
    with serve(api.app) as url:
        out = cli(
            "create",
            "make me soup",
            "--request-id",
            "s1",
            "--wait",
            "--json",
            "--server",
            url,
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        job = json.loads(out.stdout)
        assert job["id"] == "create-s1" and job["status"] == "succeeded"
        assert api.bodies[0] == {
            "prompt": "make me soup",
            "mode": "batch",
            "db": None,
            "request_id": "s1",
        }
        assert api.reads >= 2  # followed through generating to succeeded

        bad = cli("modify", "page-1", "make it vegan", "--server", url, cwd=tmp_path)
        assert bad.returncode == 2 and "Notion id" in bad.stderr
        out = cli("modify", PAGE_URL, "make it vegan", "--server", url, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "modify-1"
        assert api.bodies[1] == {"page_id": PAGE_ID, "request": "make it vegan", "mode": "batch"}

        listed = cli("jobs", "--server", url, cwd=tmp_path)
        assert "create-s1  succeeded" in listed.stdout and "modify-1" in listed.stdout
        missing = cli("jobs", "nope", "--server", url, cwd=tmp_path)
        assert missing.returncode == 1 and "no job 'nope'" in missing.stderr

        denied = cli("create", "soup", "--server", url, key="wrong-key", cwd=tmp_path)
        assert denied.returncode == 1
        assert "401" in denied.stderr and "missing or wrong API key" in denied.stderr
        for run in (out, listed, denied):
            assert KEY not in run.stdout + run.stderr and "wrong-key" not in run.stderr
    assert not (tmp_path / "batchcook.sqlite").exists()  # nothing ran in-process


def test_jobs_follow_on_a_server_shows_them_together_and_exits_1_if_one_failed(
    tmp_path: Path,
) -> None:
    api = StandIn()
    for job in (
        Job(id="create-a", kind="create", prompt="soup"),
        Job(id="create-b", kind="create", prompt="burnt toast"),
    ):
        api.jobs[job.id] = job
    with serve(api.app) as url:
        out = cli("jobs", "--follow", "--server", url, cwd=tmp_path)  # the latest jobs
        unknown = cli("jobs", "create-a", "nope", "--follow", "--server", url, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    log = out.stderr.splitlines()
    assert log[0] == "2 jobs: 2 generating · cost $0.0000 so far, ≤ $0.0667 more estimated"
    assert "create-a  responses   batch_1  validating  0/1 done" in log
    assert "2 jobs: 1 succeeded, 1 failed · total $0.0000 (est. ≤ $0.0667)" in log
    assert (
        "create-b  failed     $0.0000 (est. ≤ $0.0333)  'burnt toast'  "
        "error (poll_batches): batch expired" in log
    )
    assert log[-1] == "1 of 2 jobs failed"
    assert [line.split()[:2] for line in out.stdout.splitlines()] == [
        ["create-a", "succeeded"],
        ["create-b", "failed"],
    ]
    assert unknown.returncode == 1 and "no job 'nope'" in unknown.stderr
    assert "create-a  queued" not in unknown.stderr  # nothing is followed then


def wait_for_line(log: Path, text: str, timeout: float = 30) -> None:
    wait_for_text(log, text, timeout)


def test_ctrl_c_stops_following_and_leaves_the_jobs_running(tmp_path: Path) -> None:
    api = StandIn()
    api.jobs["create-slow"] = Job(id="create-slow", kind="create", prompt="slow stew")
    log = tmp_path / "follow.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHCOOK_", "NOTION_"))}
    with serve(api.app) as url:
        follow = subprocess.Popen(
            [sys.executable, "-m", "batchcook", "jobs", "create-slow", "--follow", "--server", url],
            env={**env, "BATCHCOOK_DATA_DIR": str(tmp_path), "BATCHCOOK_API_KEY": KEY},
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            # As from a terminal: a background test run passes SIGINT on as ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            wait_for_line(log, "create-slow  responses   batch_1")
            follow.send_signal(signal.SIGINT)
            assert follow.wait(15) == 130
        finally:
            if follow.poll() is None:
                follow.kill()
    said = log.read_text()
    assert "create-slow  generating est. ≤ $0.0333  'slow stew'" in said
    assert "stopped following: the jobs go on on the server (nothing was stopped)." in said
    assert api.jobs["create-slow"].status == "generating"  # not cancelled


def test_serve_answers_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`batchcook serve` runs the API app (engine in its lifespan) until SIGTERM."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHCOOK_", "NOTION_"))}
    env["BATCHCOOK_DATA_DIR"] = str(tmp_path)
    env["BATCHCOOK_API_KEY"] = "sk-secret-in-query-42"
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchcook", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "serve exited"
                assert time.monotonic() < deadline, "serve did not answer within 30 s"
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
        # A phone shortcut's ?key= must not end up in the access log.
        keyed = httpx.get(
            f"http://127.0.0.1:{port}/api/jobs/nope", params={"key": "sk-secret-in-query-42"}
        )
        assert keyed.status_code == 404
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down cleanly, then re-raises the signal it caught
        assert proc.wait(15) in (0, -signal.SIGTERM)
        logged = log.read_text()
        assert "Application shutdown complete" in logged
        assert "/api/jobs/nope?key=[redacted]" in logged
        assert "sk-secret-in-query-42" not in logged
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (tmp_path / "batchcook.sqlite").exists()  # the engine started on the default DB
