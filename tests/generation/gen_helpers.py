"""Fixtures for generation tests: the runner polls on the emulator's clock (no wall time)."""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI
from openai.types import Batch

from batchcook.config import Settings
from batchcook.generation.batch import BatchRunner, Chunk, SubmittedBatch
from batchcook.testing.openai_emulator import OpenAIEmulator


class ListRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def file_uploaded(self, file_id: str, chunk: Chunk) -> None:
        self.events.append(("file", file_id))

    def batch_created(self, batch: SubmittedBatch) -> None:
        self.events.append(("batch", batch.id))

    def batch_polled(self, batch: Batch) -> None:
        self.events.append(("poll", batch.status))


def emulator_runner(emu: OpenAIEmulator, client: AsyncOpenAI, **kwargs: Any) -> BatchRunner:
    async def sleep(seconds: float) -> None:
        emu.advance(seconds)

    return BatchRunner(client, sleep=sleep, clock=emu.clock.now, **kwargs)


def emulator_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "openai_api_key": "sk-test-key",
        "openai_base_url": f"{url}/v1",
        "openai_max_retries": 2,
        **overrides,
    }
    return Settings(**values)
