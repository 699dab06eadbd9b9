"""Two installs on one OpenAI project: a laptop on SQLite and a server on PostgreSQL, each
`batchcook serve` with its own system database, Notion and API key, against one OpenAI
emulator. Both sweep fully every second while 20 jobs each run, with refused lines and
cancelled jobs on both. Nothing of one may be touched by the other: every batch cancel and
every file delete an install sends is for its own batches, each shared batch holds one
install's requests, and a batch made before install ids is left alone by both."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_procs import (
    api_healthy,
    batchcook,
    fresh_database,
    postgres_available,
    process_env,
    start,
    stop,
)
from openai import OpenAI

from batchcook.config import Settings
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator, SystemClock
from batchcook.testing.polling import poll
from batchcook.testing.server import free_port, serve

JOBS = 20
POISON = "a poison soup"  # the emulator's model refuses it: that line fails, the job too
Call = tuple[str, str, str]  # method, path, API key


def recording(app: Any, calls: list[Call]) -> Callable[..., Any]:
    """The emulator, noting who called what: the test's view of each install's actions."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            auth = dict(scope["headers"]).get(b"authorization", b"").decode()
            calls.append((scope["method"], scope["path"], auth.removeprefix("Bearer ")))
        await app(scope, receive, send)

    return wrapped


def legacy_batch(openai_url: str) -> str:
    """A batch from before install ids: our job metadata, no install. Nobody may touch it."""
    client = OpenAI(api_key="sk-legacy", base_url=f"{openai_url}/v1")
    model = Settings.model_fields["text_model"].default
    line = {
        "custom_id": "legacy-1",
        "method": "POST",
        "url": "/v1/responses",
        "body": {"model": model, "input": "an old soup"},
    }
    upload = client.files.create(
        file=("legacy.jsonl", io.BytesIO(json.dumps(line).encode())), purpose="batch"
    )
    batch = client.batches.create(
        input_file_id=upload.id,
        endpoint="/v1/responses",
        completion_window="24h",
        metadata={"batchcook_job": "create-legacy"},
    )
    return batch.id


@pytest.mark.skipif(not postgres_available(), reason="PostgreSQL is not reachable")
def test_two_installs_never_touch_each_other(tmp_path: Path) -> None:
    openai = OpenAIEmulator(clock=SystemClock())
    openai.faults.default_batch = BatchPlan(validating=0.2, in_progress=3, finalizing=0.2)
    calls: list[Call] = []
    installs = {"laptop": "sqlite", "server": "postgres"}
    keys = {name: f"sk-{name}-key-0123456789" for name in installs}
    notions = {name: NotionEmulator(rate=None) for name in installs}
    with (
        serve(recording(openai.app, calls)) as openai_url,
        serve(notions["laptop"].app) as laptop_notion,
        serve(notions["server"].app) as server_notion,
        fresh_database("sqlite", tmp_path) as laptop_db,
        fresh_database("postgres", tmp_path) as server_db,
    ):
        legacy = legacy_batch(openai_url)
        notion_urls = {"laptop": laptop_notion, "server": server_notion}
        databases = {"laptop": laptop_db, "server": server_db}
        ports = {name: free_port() for name in installs}
        procs = []
        try:
            for name in installs:
                env = process_env(
                    databases[name],
                    tmp_path / f"data-{name}",
                    openai_url,
                    notion_urls[name],
                    notions[name],
                    OPENAI_API_KEY=keys[name],
                    BATCHCOOK_SWEEP_SCHEDULE="* * * * * *",
                    BATCHCOOK_SWEEP_FULL_EVERY="1",  # every tick lists back 24 h
                    BATCHCOOK_BATCH_WINDOW="0.5",
                    BATCHCOOK_DELETE_FILES="true",
                    BATCHCOOK_POLL_INTERVAL="0.5",
                    BATCHCOOK_MAX_RETRIES="0",
                    BATCHCOOK_IMAGE_SIZE="1024x1024",
                    BATCHCOOK_IMAGE_QUALITY="low",
                )
                command = batchcook("serve", "--port", str(ports[name]))
                procs.append(start(command, env, tmp_path / f"{name}.log"))
            for name, port in ports.items():
                poll(lambda p=port: api_healthy(p), f"{name}'s API", 60)

            jobs: dict[str, list[str]] = {name: [] for name in installs}
            for i in range(JOBS):
                for name, port in ports.items():
                    prompt = POISON if i % 6 == 3 else f"{name} dish number {i}"
                    r = httpx.post(
                        f"http://127.0.0.1:{port}/api/recipes",
                        json={"prompt": prompt, "request_id": f"{name}-{i}"},
                    )
                    assert r.status_code == 202, r.text
                    jobs[name].append(r.json()["job_id"])
            cancelled = {name: [jobs[name][i] for i in (5, 11, 17)] for name in installs}
            for name, port in ports.items():
                for job_id in cancelled[name]:
                    r = httpx.post(f"http://127.0.0.1:{port}/api/jobs/{job_id}/cancel")
                    assert r.status_code == 200, r.text

            def ended() -> dict[str, list[dict[str, Any]]] | None:
                records = {name: [_job(ports[name], j) for j in ids] for name, ids in jobs.items()}
                done = all(
                    r["status"] in ("succeeded", "failed") for rs in records.values() for r in rs
                )
                return records if done else None

            records = poll(ended, f"all {2 * JOBS} jobs to end", 300, interval=0.5)
            lists_at_end = {name: _lists(calls, keys[name]) for name in installs}
            for name in installs:  # three more full sweeps each, with everything ended
                poll(
                    lambda n=name: _lists(calls, keys[n]) >= lists_at_end[n] + 3,
                    f"three more sweeps by the {name}",
                    60,
                )
        finally:
            stop(procs)

    install_of: dict[str, str] = {}  # API key → the install id on its batches
    owner: dict[str, str] = {}  # file id → install id
    for name in installs:
        ids = {b["id"] for r in records[name] for b in r["batches"]}
        marks = {openai.state.batches[b].metadata.get("batchcook_install") for b in ids}
        assert len(marks) == 1 and None not in marks, marks
        install_of[keys[name]] = marks.pop()
    assert len(set(install_of.values())) == 2
    for batch in openai.state.batches.values():
        mark = batch.metadata.get("batchcook_install", "")
        for file_id in (batch.input_file_id, batch.output_file_id, batch.error_file_id):
            if file_id:
                owner[file_id] = mark

    touched = 0
    for method, path, key in calls:
        if key == "sk-legacy":
            continue
        if method == "POST" and (m := re.fullmatch(r"/v1/batches/([^/]+)/cancel", path)):
            mark = openai.state.batches[m[1]].metadata.get("batchcook_install")
            assert mark == install_of[key], f"{key[:9]} cancelled another install's {m[1]}"
            touched += 1
        if method == "DELETE" and (m := re.fullmatch(r"/v1/files/([^/]+)", path)):
            assert owner.get(m[1]) == install_of[key], f"{key[:9]} deleted another's {m[1]}"
            touched += 1
    assert touched > 0, "no install cleaned up anything: the test shows nothing"

    rode = {  # the batches each install's jobs rode in: one install's requests per batch
        name: {b["id"] for r in records[name] for b in r["batches"]} for name in installs
    }
    assert not rode["laptop"] & rode["server"]
    for name, ids in rode.items():
        for batch_id in ids:
            mark = openai.state.batches[batch_id].metadata["batchcook_install"]
            assert mark == install_of[keys[name]]

    old = openai.state.batches[legacy]
    assert old.status == "completed", old.status  # ran to its end: never cancelled
    assert old.input_file_id in openai.state.files  # and its files never deleted

    for name in installs:
        by_status = {r["id"]: r for r in records[name]}
        ok = [r for r in records[name] if r["status"] == "succeeded"]
        poisoned = [j for i, j in enumerate(jobs[name]) if i % 6 == 3]
        assert sorted(r["id"] for r in ok) == sorted(
            set(jobs[name]) - set(poisoned) - set(cancelled[name])
        ), [(r["id"], r["error"]) for r in records[name] if r["status"] != "succeeded"]
        for job_id in poisoned:
            assert by_status[job_id]["error"]["type"] == "RefusalError", by_status[job_id]
        assert len(notions[name].pages()) == len(ok)  # cancelled jobs wrote no page


def _job(port: int, job_id: str) -> dict[str, Any]:
    r = httpx.get(f"http://127.0.0.1:{port}/api/jobs/{job_id}", timeout=10)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _lists(calls: list[Call], key: str) -> int:
    return sum(1 for m, p, k in calls if k == key and m == "GET" and p == "/v1/batches")
