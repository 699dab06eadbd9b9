"""Shared fixtures: an OpenAI emulator on a loopback port, on a pinned clock (``pinned.py``),
and official SDK clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import AsyncOpenAI, OpenAI

from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.server import serve
from pinned import pinned_emulator, write_retiring_catalog

# The engine and emulator fixtures of the tests that run jobs (tests/service, tests/web).
pytest_plugins = ["engine_fixtures"]


@pytest.fixture
def retiring_catalog(tmp_path: Path) -> Path:
    """The shipped catalog plus two test models with dates fixed relative to PINNED_DAY."""
    return write_retiring_catalog(tmp_path)


@pytest.fixture
def emu() -> OpenAIEmulator:
    return pinned_emulator()


@pytest.fixture
def emu_url(emu: OpenAIEmulator) -> Iterator[str]:
    with serve(emu.app) as url:
        yield url


@pytest.fixture
def client(emu_url: str) -> OpenAI:
    """The official sync client; retries off so each fault is seen exactly once."""
    return OpenAI(api_key="sk-test-key", base_url=f"{emu_url}/v1", max_retries=0)


@pytest.fixture
def aclient(emu_url: str) -> AsyncOpenAI:
    return AsyncOpenAI(api_key="sk-test-key", base_url=f"{emu_url}/v1", max_retries=0)
