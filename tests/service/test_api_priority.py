"""The API answers first: in a process that serves requests and runs jobs, a job waits to
start while two or more requests are in flight, at most BATCHCOOK_API_PRIORITY_SECONDS.

Requests are held in flight for real: a POST whose body is sent in two pieces, the second
only when the test lets it go (the server is reading the body meanwhile)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import job_waits
import pytest
from pydantic import SecretStr

from batchcook.api.app import create_app
from batchcook.config import Settings
from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.polling import poll
from batchcook.testing.server import serve
from batchcook.workflows import intake
from batchcook.workflows.runtime import runtime

AUTH = {"Authorization": "Bearer api-key-1"}


@pytest.fixture
def api(service: Settings) -> Iterator[str]:
    settings = service.model_copy(update={"api_key": SecretStr("api-key-1")})
    runtime().settings = settings
    with serve(create_app(settings, manage_engine=False)) as url:
        yield url


@contextmanager
def requests_in_flight(url: str, count: int) -> Iterator[None]:
    """``count`` requests the server is answering until the block ends (each then gets its
    4xx: an empty prompt starts no job)."""
    go = threading.Event()
    answers: list[int] = []

    def body() -> Iterator[bytes]:
        yield b'{"prompt": '
        go.wait(60)
        yield b'""}'

    def send() -> None:
        r = httpx.post(f"{url}/api/recipes", content=body(), headers=AUTH, timeout=90)
        answers.append(r.status_code)

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        poll(lambda: intake.in_flight() >= count, timeout=10, what="requests in flight")
        yield
    finally:
        go.set()
        for thread in threads:
            thread.join(30)
    assert answers and all(400 <= code < 500 for code in answers), answers


def _create(url: str) -> str:
    r = httpx.post(
        f"{url}/api/recipes",
        json={"prompt": "pasta carbonara", "request_id": uuid.uuid4().hex},
        headers=AUTH,
    )
    assert r.status_code == 202, r.text
    return str(r.json()["job_id"])


def _status(url: str, job_id: str) -> str:
    return str(httpx.get(f"{url}/api/jobs/{job_id}", headers=AUTH).json()["status"])


def test_a_job_waits_while_the_api_is_busy_then_runs(
    api: str, service: Settings, openai_emu: OpenAIEmulator
) -> None:
    runtime().settings = runtime().settings.model_copy(update={"api_priority_seconds": 60})
    with requests_in_flight(api, 2):
        job_id = _create(api)
        # Unheld, this job submits within a queue poll (0.05 s) and a round; held, nothing
        # reaches OpenAI for as long as the requests are in flight.
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert _status(api, job_id) == "queued"
            assert openai_emu.state.batches == {}
            time.sleep(0.1)
    done = job_waits.wait_job(api, job_id, ("succeeded", "failed"), 30, headers=AUTH)
    assert done["status"] == "succeeded", done["error"]
    poll(lambda: intake.in_flight() == 0, timeout=10, what="every request counted out")


def test_the_wait_is_bounded(api: str, service: Settings) -> None:
    runtime().settings = runtime().settings.model_copy(update={"api_priority_seconds": 0.5})
    with requests_in_flight(api, 3):
        job_id = _create(api)
        done = job_waits.wait_job(api, job_id, ("succeeded", "failed"), 30, headers=AUTH)
        assert done["status"] == "succeeded", done["error"]
        assert intake.busy()  # it ran while the API was still busy
