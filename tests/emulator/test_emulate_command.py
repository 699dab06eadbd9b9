"""``batchcook emulate openai`` as a separate process, steered over its control routes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from oai_helpers import line, submit, text_body
from openai import OpenAI

from batchcook.testing.server import free_port


@pytest.fixture
def served() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batchcook",
            "emulate",
            "openai",
            "--port",
            str(port),
            "--manual-clock",
            "--phase-seconds",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{url}/_emulator/clock", timeout=0.5)
            break
        except httpx.TransportError as err:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(
                    proc.stdout.read().decode() if proc.stdout else "no output"
                ) from err
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_clock_and_faults_over_http(served: str) -> None:
    client = OpenAI(api_key="k", base_url=f"{served}/v1", max_retries=0)
    batch = submit(client, [line("a", text_body())])
    assert client.batches.retrieve(batch.id).status == "validating"
    httpx.post(f"{served}/_emulator/clock", json={"seconds": 180}).raise_for_status()
    assert client.batches.retrieve(batch.id).status == "completed"

    faults = {
        "http": [{"status": 429, "path": "/v1/batches", "retry_after": 0.01}],
        "batches": [{"force": "failed"}],
    }
    httpx.post(f"{served}/_emulator/faults", json=faults).raise_for_status()
    with pytest.raises(openai.RateLimitError):
        client.batches.list()
    failed = submit(client, [line("b", text_body())])
    httpx.post(f"{served}/_emulator/clock", json={"seconds": 60}).raise_for_status()
    assert client.batches.retrieve(failed.id).status == "failed"
    calls = httpx.get(f"{served}/_emulator/calls").json()
    assert calls["/v1/batches"] >= 3
