"""OpenAI API calls and wall time for N concurrent prompts, against the emulator.

Two ways to serve N prompts at once:
- independent: N calls of ``generate_data_and_image`` (two batches each);
- shared: all N prompts' requests through one ``BatchRunner.run`` (a collection window:
  two batches in all, polled together).

Batches are instant (zero-length phases), so the wall time is our code plus the emulator's,
not OpenAI's queue. Figures are printed per prompt and as ratios to N = 1 measured in the
same run. Usage: python bench/batch_calls.py [N ...]   (default 1 100 1000)
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

from openai import AsyncOpenAI

from batchcook.config import Settings
from batchcook.generation.batch import BatchRunner
from batchcook.generation.generate import generate_data_and_image
from batchcook.generation.requests import image_request, text_request
from batchcook.recipes.prompts import SYSTEM_INSTRUCTIONS, image_prompt
from batchcook.recipes.schema import Recipe
from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.server import serve


def _settings(url: str) -> Settings:
    return Settings(
        openai_api_key="bench",  # type: ignore[arg-type]
        openai_base_url=f"{url}/v1",
        image_size="1024x1024",
        image_quality="low",
        poll_interval=0.05,
    )


async def independent(client: AsyncOpenAI, settings: Settings, n: int) -> None:
    runner = BatchRunner(client, poll_interval=settings.poll_interval)
    await asyncio.gather(
        *(
            generate_data_and_image(
                f"dish number {i}",
                SYSTEM_INSTRUCTIONS,
                Recipe,
                image_prompt(f"dish number {i}"),
                settings=settings,
                client=client,
                runner=runner,
                job_id=f"job{i}",
            )
            for i in range(n)
        )
    )


async def shared(client: AsyncOpenAI, settings: Settings, n: int) -> None:
    requests = []
    for i in range(n):
        requests.append(
            text_request(f"job{i}-data", f"dish {i}", SYSTEM_INSTRUCTIONS, Recipe, settings)
        )
        requests.append(image_request(f"job{i}-image", image_prompt(f"dish {i}"), settings))
    results = await BatchRunner(client, poll_interval=settings.poll_interval).run(requests)
    assert all(r.ok for r in results.values()) and len(results) == 2 * n


Scenario = Callable[[AsyncOpenAI, Settings, int], Awaitable[None]]


def measure(scenario: Scenario, n: int) -> tuple[int, float]:
    emu = OpenAIEmulator()
    with serve(emu.app) as url:
        settings = _settings(url)

        async def go() -> None:
            async with AsyncOpenAI(api_key="bench", base_url=f"{url}/v1") as client:
                await scenario(client, settings, n)

        started = time.perf_counter()
        asyncio.run(go())
        elapsed = time.perf_counter() - started
    return sum(emu.calls.values()), elapsed


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1, 100, 1000]
    print(
        f"{'scenario':<12}{'N':>6}{'calls':>8}{'calls/N':>9}{'wall s':>9}{'ms/N':>8}"
        f"{'calls/N vs N=1':>16}{'ms/N vs N=1':>13}"
    )
    for name, scenario in (("independent", independent), ("shared", shared)):
        base: tuple[float, float] | None = None
        for n in sizes:
            calls, wall = measure(scenario, n)
            per_call, per_ms = calls / n, wall * 1000 / n
            base = base or (per_call, per_ms)
            print(
                f"{name:<12}{n:>6}{calls:>8}{per_call:>9.2f}{wall:>9.2f}{per_ms:>8.1f}"
                f"{per_call / base[0]:>16.2f}{per_ms / base[1]:>13.2f}"
            )


if __name__ == "__main__":
    main()
