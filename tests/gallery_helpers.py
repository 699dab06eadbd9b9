"""What the gallery tests share besides fixtures: the running gallery (``Gallery``) and a
deadline-bound wait. A plain module, so tests import it by name; a conftest is pytest's to
load, and ``from conftest import`` finds whichever conftest is first on the path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from batchcook.config import Settings
from batchcook.stores.local import ListedRecipe, LocalStore
from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.polling import poll


@dataclass
class Gallery:
    url: str
    settings: Settings
    store: LocalStore
    openai: OpenAIEmulator

    def create(self, prompt: str, headers: dict[str, str] | None = None) -> str:
        """Start a recipe through the API, as a user would; the job id."""
        r = httpx.post(f"{self.url}/api/recipes", json={"prompt": prompt}, headers=headers)
        assert r.status_code == 202, r.text
        job_id: str = r.json()["job_id"]
        return job_id

    def store_listing(self) -> list[ListedRecipe]:
        """What the store holds, newest first (its own event loop, in a thread: Playwright's
        sync API runs one in this thread)."""
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.store.list_recipes()).result()

    def wait(
        self, job_id: str, headers: dict[str, str] | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """The job once it ended (a deadline, never a fixed sleep)."""
        return wait_for(
            lambda: _ended(httpx.get(f"{self.url}/api/jobs/{job_id}", headers=headers).json()),
            f"job {job_id} to end",
            timeout,
        )


def _ended(job: dict[str, Any]) -> dict[str, Any] | None:
    return job if job.get("status") in ("succeeded", "failed") else None


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    return poll(check, what, timeout)
