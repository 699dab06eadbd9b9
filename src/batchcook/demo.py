"""``batchcook demo``: the main job end to end against a local OpenAI emulator.

No keys and no network: the emulator runs in this process on a loopback port (batches take
a couple of real seconds), and everything goes through the official SDK exactly as it would
against api.openai.com — two JSONL files, two batches, polling, both result files.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from openai import AsyncOpenAI
from openai.types import Batch
from pydantic import SecretStr
from rich.console import Console

from batchcook.config import Settings, get_settings
from batchcook.generation.batch import BatchRunner, Chunk, SubmittedBatch
from batchcook.generation.generate import Generation, generate_data_and_image
from batchcook.recipes.prompts import SYSTEM_INSTRUCTIONS, image_prompt
from batchcook.recipes.schema import Recipe
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator, SystemClock
from batchcook.testing.server import serve

PROMPT = "make me pasta carbonara"


class ConsoleRecorder:
    """Prints each file, batch and status change as it happens."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.last: dict[str, str] = {}

    def file_uploaded(self, file_id: str, chunk: Chunk) -> None:
        self.console.print(f"uploaded {file_id}: {len(chunk.lines)} line(s) for {chunk.endpoint}")

    def batch_created(self, batch: SubmittedBatch) -> None:
        self.console.print(f"created  {batch.id} ({batch.endpoint}, {batch.model})")

    def batch_polled(self, batch: Batch) -> None:
        if self.last.get(batch.id) != batch.status:
            self.last[batch.id] = batch.status
            self.console.print(f"  {batch.id}: {batch.status}")


async def _generate(prompt: str, settings: Settings, console: Console) -> Generation[Recipe]:
    async with AsyncOpenAI(
        api_key="demo-key", base_url=settings.openai_base_url, max_retries=2
    ) as client:
        runner = BatchRunner(
            client,
            poll_interval=settings.poll_interval,
            poll_timeout=settings.poll_timeout,
            recorder=ConsoleRecorder(console),
        )
        return await generate_data_and_image(
            prompt,
            SYSTEM_INSTRUCTIONS,
            Recipe,
            image_prompt(prompt),
            mode="batch",
            settings=settings,
            client=client,
            runner=runner,
        )


def run_demo(prompt: str = PROMPT) -> int:
    console = Console()
    emu = OpenAIEmulator(clock=SystemClock())
    emu.faults.default_batch = BatchPlan(validating=0.5, in_progress=1.0, finalizing=0.5)
    with serve(emu.app) as url:
        console.print(f"OpenAI emulator at {url}/v1 — prompt: {prompt!r}")
        settings = get_settings().model_copy(
            update={
                "openai_api_key": SecretStr("demo-key"),
                "openai_base_url": f"{url}/v1",
                "poll_interval": 0.5,
            }
        )
        gen = asyncio.run(_generate(prompt, settings, console))
    out_dir: Path = settings.data_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "demo-recipe.json").write_text(gen.data.model_dump_json(indent=2))
    image_path = out_dir / f"demo-image.{gen.image_format}"
    image_path.write_bytes(gen.image)
    recipe = gen.data
    console.print(
        f"recipe: {recipe.title!r} — {len(recipe.ingredients)} ingredients, "
        f"{len(recipe.instructions)} steps → {out_dir / 'demo-recipe.json'}"
    )
    console.print(f"image:  {len(gen.image):,} bytes → {image_path}")
    for cost in gen.costs:
        console.print(
            f"cost:   {cost.custom_id} {cost.model} ({cost.tier}) "
            f"{cost.usage.input_tokens}+{cost.usage.output_tokens} tokens ${cost.usd:.5f}"
        )
    console.print(f"total:  ${gen.cost_usd:.5f} at batch prices (emulated; nothing was billed)")
    return 0
