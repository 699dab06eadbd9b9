"""``batchcook demo``: the whole batch round trip against a local OpenAI emulator.

It needs no keys and no network: the emulator runs in this process on a loopback port, and
everything goes through the official SDK exactly as it would against api.openai.com.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

from openai import AsyncOpenAI
from openai.lib._parsing._responses import type_to_text_format_param
from rich.console import Console

from batchcook.config import get_settings
from batchcook.recipes.schema import Recipe
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator, SystemClock
from batchcook.testing.server import serve

PROMPT = "make me pasta carbonara"


async def _round_trip(client: AsyncOpenAI, console: Console, out_dir: Path) -> None:
    settings = get_settings()
    text_line = {
        "custom_id": "demo-recipe",
        "method": "POST",
        "url": "/v1/responses",
        "body": {
            "model": settings.text_model,
            "input": PROMPT,
            "text": {"format": type_to_text_format_param(Recipe)},
        },
    }
    image_line = {
        "custom_id": "demo-image",
        "method": "POST",
        "url": "/v1/images/generations",
        "body": {
            "model": settings.image_model,
            "prompt": f"{PROMPT}. Food photography, no text, no people.",
            "size": settings.image_size,
            "quality": settings.image_quality,
            "output_format": settings.image_format,
            "output_compression": settings.image_compression,
        },
    }
    batches = []
    for line in (text_line, image_line):
        f = await client.files.create(
            file=(f"{line['custom_id']}.jsonl", json.dumps(line).encode()), purpose="batch"
        )
        b = await client.batches.create(
            input_file_id=f.id,
            endpoint=line["url"],  # type: ignore[arg-type]
            completion_window="24h",
            metadata={"job": "demo"},
        )
        console.print(f"created {b.id} for {line['url']} ({b.status})")
        batches.append(b)
    started = time.monotonic()
    results: dict[str, dict[str, object]] = {}
    for b in batches:
        while b.status not in ("completed", "failed", "expired", "cancelled"):
            await asyncio.sleep(0.5)
            b = await client.batches.retrieve(b.id)
            console.print(f"  {b.id[:18]}… {b.status} {b.request_counts}")
        if b.output_file_id is None:
            raise SystemExit(f"batch {b.id} ended {b.status} with no output: {b.errors}")
        content = await client.files.content(b.output_file_id)
        for raw in content.text.splitlines():
            line = json.loads(raw)
            results[line["custom_id"]] = line["response"]["body"]
    body = results["demo-recipe"]
    text = next(
        c["text"]
        for item in body["output"]  # type: ignore[attr-defined]
        if item["type"] == "message"
        for c in item["content"]
    )
    recipe = Recipe.model_validate_json(text)
    image = base64.b64decode(results["demo-image"]["data"][0]["b64_json"])  # type: ignore[index]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "demo-recipe.json").write_text(recipe.model_dump_json(indent=2))
    image_path = out_dir / f"demo-image.{settings.image_format}"
    image_path.write_bytes(image)
    console.print(f"both batches done in {time.monotonic() - started:.1f}s")
    console.print(f"recipe: {recipe.title!r}, {len(recipe.ingredients)} ingredients")
    console.print(f"image: {len(image):,} bytes → {image_path}")


def run_demo() -> int:
    console = Console()
    emu = OpenAIEmulator(clock=SystemClock())
    emu.faults.default_batch = BatchPlan(validating=0.5, in_progress=1.0, finalizing=0.5)
    with serve(emu.app) as url:
        console.print(f"OpenAI emulator at {url}/v1")
        client = AsyncOpenAI(api_key="demo-key", base_url=f"{url}/v1")
        asyncio.run(_round_trip(client, console, get_settings().data_dir))
    return 0
