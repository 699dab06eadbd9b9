"""Following several jobs to their end through both emulators: ``create --file --wait`` (the
jobs run in that process) beside ``jobs --follow`` (a reader), on the system database; and
``create --file --wait --server`` beside ``jobs --follow --server`` against the real API.

The OpenAI emulator's clock stands still, so every batch stays in flight until the test
moves it: the view is seen with all jobs running (estimates only) before they end (actual
costs). Off a terminal the view prints plain lines on change, which is what is asserted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_procs import (  # noqa: F401
    IN_FLIGHT,
    World,
    batchcook,
    start,
    world_fixture,
)
from pydantic import SecretStr

from batchcook.api.app import create_app
from batchcook.budget import estimate_job
from batchcook.config import Settings
from batchcook.jobs import Job
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.polling import poll, wait_for_text
from batchcook.testing.server import serve

PROMPTS = ("mushroom risotto", "tiramisu", "gazpacho")
RUNNING = "3 jobs: 3 generating · cost $0.0000 so far, ≤ ${:.4f} more estimated"
KEY = "api-key-follow"


def in_flight(job: Job) -> bool:
    return job.status == "generating" and len(job.batches) == 2


def usd(value: float) -> str:
    return f"${value:.4f}"


def assert_estimate_then_cost(log: str, job: Job, estimate: float) -> None:
    """The job's line shows its estimate while it runs, then its actual cost beside it."""
    running = f"{job.id}  generating est. ≤ {usd(estimate)}  {PROMPTS[int(job.id[-1])]!r}"
    ended = f"{job.id}  succeeded  {usd(job.cost_usd)} (est. ≤ {usd(estimate)})  {job.title!r}"
    assert running in log and ended in log, log
    assert log.index(running) < log.index(ended)
    assert 0 < job.cost_usd <= estimate
    for endpoint in ("responses  ", "generations"):
        # A shared batch: its count covers every job's line in it.
        assert re.search(rf"^{job.id}  {endpoint} batch_\S+  completed +(\d+)/\1 done$", log, re.M)


def assert_followed_to_the_end(log: str, jobs: list[Job], estimates: list[float]) -> None:
    assert RUNNING.format(sum(estimates)) in log, log
    for job, estimate in zip(jobs, estimates, strict=True):
        assert_estimate_then_cost(log, job, estimate)
    total = sum(j.cost_usd for j in jobs)
    done = f"3 jobs: 3 succeeded · total {usd(total)} (est. ≤ {usd(sum(estimates))})"
    assert done in log and log.index(RUNNING.format(sum(estimates))) < log.index(done)


def finish(proc: subprocess.Popen[bytes], log: Path) -> str:
    assert proc.wait(60) == 0, log.read_text()
    return log.read_text()


@pytest.fixture
def stopped_at_the_end() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes the test started, killed if the test failed before they ended."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def cli_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as the CLI processes see them (none of this shell's BATCHCOOK_ values)."""
    for name in [n for n in os.environ if n.startswith(("BATCHCOOK_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_create_file_wait_and_jobs_follow_show_the_jobs_together(
    world: World,
    cli_settings: Settings,
    stopped_at_the_end: list[subprocess.Popen[bytes]],
) -> None:
    prompts = world.tmp / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    ids = [f"create-party-{i}" for i in range(3)]
    create_args = ("create", "--file", str(prompts), "--request-id", "party", "--wait")
    created_log, followed_log = world.tmp / "create.log", world.tmp / "follow.log"
    creating = start(batchcook(*create_args), world.env, created_log)
    stopped_at_the_end.append(creating)
    for job_id in ids:
        world.reader.wait(job_id, in_flight, "generating with two batches", 60)
    following = start(batchcook("jobs", "--follow", *ids), world.env, followed_log)
    stopped_at_the_end.append(following)
    asked = [Job(id=i, kind="create", prompt=p) for i, p in zip(ids, PROMPTS, strict=True)]
    estimates = [estimate_job(job, cli_settings).usd for job in asked]
    wait_for_text(created_log, RUNNING.format(sum(estimates)))
    wait_for_text(followed_log, RUNNING.format(sum(estimates)))

    world.openai.advance(200)  # every batch ends at its next poll
    created, followed = finish(creating, created_log), finish(following, followed_log)
    jobs = [world.reader.job(i) for i in ids]
    assert all(j is not None and j.status == "succeeded" for j in jobs), jobs
    done = [j for j in jobs if j is not None]
    assert_followed_to_the_end(created, done, estimates)
    assert_followed_to_the_end(followed, done, estimates)
    for job in done:  # the records, one line each, once every job has ended
        assert re.search(
            rf"^{job.id}  succeeded  create .* {re.escape(usd(job.cost_usd))}  ", followed, re.M
        )
    # The three jobs' requests ride in shared batches: 1 to 3 per endpoint, by timing.
    assert set(world.endpoints()) == {"/v1/responses", "/v1/images/generations"}
    assert all(1 <= n <= 3 for n in world.endpoints().values())
    assert len(world.notion.pages()) == 3


@pytest.fixture
def api(service: Settings) -> Iterator[str]:
    settings = service.model_copy(update={"api_key": SecretStr(KEY)})
    with serve(create_app(settings, manage_engine=False)) as url:
        yield url


def client_env(tmp_path: Path) -> dict[str, str]:
    """A CLI that only talks to the server: no database, no OpenAI or Notion settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BATCHCOOK_", "NOTION_", "OPENAI_", "DBOS"))
    }
    return {**env, "BATCHCOOK_DATA_DIR": str(tmp_path), "BATCHCOOK_API_KEY": KEY}


def test_create_file_wait_and_jobs_follow_through_the_server(
    api: str,
    service: Settings,
    openai_emu: OpenAIEmulator,
    notion_emu: NotionEmulator,
    tmp_path: Path,
    stopped_at_the_end: list[subprocess.Popen[bytes]],
) -> None:
    openai_emu.faults.default_batch = IN_FLIGHT
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    request = uuid.uuid4().hex[:12]
    ids = [f"create-{request}-{i}" for i in range(3)]
    env = client_env(tmp_path)
    create_args = ("create", "--file", str(prompts), "--request-id", request, "--wait")
    created_log, followed_log = tmp_path / "create.log", tmp_path / "follow.log"
    creating = start(batchcook(*create_args, "--server", api), env, created_log)
    stopped_at_the_end.append(creating)

    def read(job_id: str) -> Job | None:
        answer = httpx.get(f"{api}/api/jobs/{job_id}", headers={"Authorization": f"Bearer {KEY}"})
        return Job.model_validate(answer.json()) if answer.status_code == 200 else None

    for job_id in ids:
        poll(lambda i=job_id: (j := read(i)) is not None and in_flight(j), f"{job_id} runs", 60)
    follow_args = ("jobs", "--follow", "--server", api, "--json", *ids)
    following = subprocess.Popen(
        batchcook(*follow_args),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=followed_log.open("wb"),
    )
    stopped_at_the_end.append(following)
    asked = [Job(id=i, kind="create", prompt=p) for i, p in zip(ids, PROMPTS, strict=True)]
    estimates = [estimate_job(job, service).usd for job in asked]
    wait_for_text(created_log, RUNNING.format(sum(estimates)))
    wait_for_text(followed_log, RUNNING.format(sum(estimates)))

    openai_emu.advance(200)
    created = finish(creating, created_log)
    records, _ = following.communicate(timeout=60)
    assert following.returncode == 0, followed_log.read_text()
    jobs = [Job.model_validate(r) for r in json.loads(records)]
    assert [j.id for j in jobs] == ids and {j.status for j in jobs} == {"succeeded"}
    assert_followed_to_the_end(created, jobs, estimates)
    assert_followed_to_the_end(followed_log.read_text(), jobs, estimates)
    assert len(notion_emu.pages()) == 3
    assert KEY not in created + followed_log.read_text()
