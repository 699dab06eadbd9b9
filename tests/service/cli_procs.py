"""Helpers for tests that run ``batchcook`` as real processes against emulators served from
the test process: a fresh system database per test, the environment a process needs, job
records read with ``DBOSClient`` (the test process never starts DBOS itself, so it does not
compete with the workers it is testing), and polling with deadlines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from dbos import DBOSClient

from batchcook.jobs import Job
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, ManualClock, OpenAIEmulator
from batchcook.testing.polling import poll
from batchcook.testing.server import serve

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
T = TypeVar("T")
#: Batches that stay in flight until the test moves the manual clock past 120 s.
IN_FLIGHT = BatchPlan(validating=10, in_progress=100, finalizing=10)


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A system database no other test uses; a Postgres one is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'system.sqlite'}"
        return
    name = f"batchcook_cli_{uuid.uuid4().hex[:10]}"
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def process_env(
    database_url: str,
    data_dir: Path,
    openai_url: str,
    notion_url: str,
    notion: NotionEmulator,
    **extra: str,
) -> dict[str, str]:
    """The environment of a batchcook process: only what we set, nothing from the user's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BATCHCOOK_", "NOTION_", "OPENAI_", "DBOS"))
    }
    env.update(
        {
            "OPENAI_API_KEY": "sk-test-secret-key",
            "OPENAI_BASE_URL": f"{openai_url}/v1",
            "NOTION_TOKEN": notion.token,
            "NOTION_BASE_URL": notion_url,
            "NOTION_RECIPES_DATABASE_ID": notion.recipes_database_id,
            "NOTION_USER_ID": notion.user_id,
            "BATCHCOOK_DATABASE_URL": database_url,
            "BATCHCOOK_DATA_DIR": str(data_dir),
            "BATCHCOOK_POLL_INTERVAL": "0.2",
            "BATCHCOOK_POLL_TIMEOUT": "60",
            "BATCHCOOK_QUEUE_POLL_SECONDS": "0.1",
            "BATCHCOOK_OPENAI_MAX_RETRIES": "2",
            "BATCHCOOK_NOTION_RETRY_DELAY": "0.05",
            "BATCHCOOK_NOTION_REQUESTS_PER_SECOND": "100",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


def batchcook(*args: str) -> list[str]:
    return [sys.executable, "-m", "batchcook", *args]


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> Any:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A background process whose output goes to ``log`` (read it with ``wait_for_text``)."""
    out = log.open("wb")
    return subprocess.Popen(
        args,
        env=env,
        cwd=log.parent,
        stdout=out,
        stderr=subprocess.STDOUT,
        # As from a terminal: a test run started in the background inherits SIGINT ignored,
        # and Python then never raises KeyboardInterrupt on Ctrl-C.
        preexec_fn=_default_signals,
    )


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate every process still running, then wait for each (killing a straggler)."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def api_healthy(port: int) -> bool:
    """Does a ``batchcook serve`` on ``port`` answer its health check yet?"""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class JobReader:
    """Job records from the system database, as any process on it would read them."""

    def __init__(self, database_url: str) -> None:
        # Lazy: the first batchcook process creates the schema, maybe after we start reading.
        self.client = DBOSClient(system_database_url=database_url, lazy=True)

    def job(self, job_id: str) -> Job | None:
        record = self.client.get_event(job_id, "job", timeout_seconds=0)
        return None if record is None else Job.model_validate(record)

    def job_if_ready(self, job_id: str) -> Job | None:
        """``job``, or None while the database or its schema does not exist yet."""
        try:
            return self.job(job_id)
        except Exception as error:  # sqlalchemy/psycopg errors before the first migration
            if "no such table" in str(error) or "does not exist" in str(error):
                return None
            raise

    def wait(self, job_id: str, check: Callable[[Job], bool], what: str, timeout: float) -> Job:
        def probe() -> Job | None:
            job = self.job_if_ready(job_id)
            return job if job is not None and check(job) else None

        return poll(probe, f"job {job_id} {what}", timeout)

    def close(self) -> None:
        self.client.destroy()


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


@pytest.fixture(name="world", params=["sqlite", "postgres"])
def world_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
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
        reader = JobReader(database_url)
        try:
            yield World(openai, notion, database_url, env, reader, tmp_path)
        finally:
            reader.close()
