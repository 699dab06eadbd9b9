"""How much longer a lone recipe waits for its batches with a collection window.

A job's batch parts wait up to ``BATCHCOOK_BATCH_WINDOW`` seconds for other jobs' parts
before the shared batches are created. This runs one create job at a time through the real
durable service (DBOS on SQLite, both emulators, production queue polling of 1 s) with the
window at 0 and at its default, and prints the seconds from starting the job to its first
batch being created (median of ``--runs``), and the difference.

Usage: python bench/lone_delay.py [--runs 5] [--window 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from pydantic import SecretStr

from batchcook.config import Settings
from batchcook.jobs import Job, new_job_id
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator, SystemClock
from batchcook.testing.server import serve
from batchcook.workflows import engine


async def one(openai: OpenAIEmulator) -> float:
    before = len(openai.state.batches)
    job = Job(id=new_job_id("create", uuid.uuid4().hex), kind="create", prompt="a lone soup")
    started = time.monotonic()
    await engine.start_job(job)
    while len(openai.state.batches) == before:
        await asyncio.sleep(0.01)
        if time.monotonic() - started > 60:
            raise SystemExit("no batch within 60 s")
    delay = time.monotonic() - started
    while (record := await engine.get_job(job.id)) is None or record.status not in (
        "succeeded",
        "failed",
    ):
        await asyncio.sleep(0.05)
    return delay


def measure(window: float, runs: int) -> list[float]:
    openai = OpenAIEmulator(clock=SystemClock())
    openai.faults.default_batch = BatchPlan()  # instant batches: this measures submission
    notion = NotionEmulator(rate=None)
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
            notion_requests_per_second=1000,
            data_dir=Path(tmp),
            image_size="1024x1024",
            image_quality="low",
            batch_window=window,
            sweep_schedule="",
        )
        engine.launch(settings)
        try:
            return [asyncio.run(one(openai)) for _ in range(runs)]
        finally:
            engine.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--window", type=float, default=Settings.model_fields["batch_window"].default
    )
    args = parser.parse_args()
    at_once = statistics.median(measure(0.0, args.runs))
    windowed = statistics.median(measure(args.window, args.runs))
    print(f"seconds from start to first batch created (median of {args.runs})")
    print(f"window 0 s: {at_once:.2f}   window {args.window:g} s: {windowed:.2f}")
    print(f"extra wait: {windowed - at_once:.2f} s (bound: {args.window:g} s)")


if __name__ == "__main__":
    main()
