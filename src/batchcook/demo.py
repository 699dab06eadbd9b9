"""``batchcook demo``: the real service path end to end, with no keys and no network.

Both emulators (OpenAI and Notion) run in this process on loopback ports; the durable engine
runs a ``create`` job exactly as ``batchcook create --wait`` does — batches submitted through
the official SDK, polled, collected, the page filed through notion-client — then the job
record, the page as text and the cover image are shown.

The demo uses its own system database (``<data dir>/demo.sqlite``): a demo interrupted
mid-run must never be resumed by a real worker pointed at the real APIs.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console

from batchcook.cli_jobs import build_job, run_local
from batchcook.config import Settings, get_settings
from batchcook.jobs import Job
from batchcook.stores.notion import NotionStore
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator, SystemClock
from batchcook.testing.server import serve

PROMPT = "make me pasta carbonara"
DEMO_KEY = "demo-key"


def demo_settings(
    base: Settings, openai_url: str, notion_url: str, notion: NotionEmulator
) -> Settings:
    """The user's settings, pointed at the emulators, with short polls for a quick demo."""
    data_dir = base.data_dir
    return base.model_copy(
        update={
            "openai_api_key": SecretStr(DEMO_KEY),
            "openai_base_url": f"{openai_url}/v1",
            "notion_token": SecretStr(notion.token),
            "notion_base_url": notion_url,
            "notion_recipes_database_id": notion.recipes_database_id,
            "notion_user_id": notion.user_id,
            "database_url": f"sqlite:///{(data_dir / 'demo.sqlite').resolve()}",
            "mode": "batch",
            "poll_interval": 0.5,
            "queue_poll_seconds": 0.2,
            "server_url": None,
        }
    )


async def _save_image(settings: Settings, job: Job) -> Path | None:
    """Download the page's cover through the store, as any reader of the page would."""
    assert job.page_id is not None
    store = NotionStore.from_settings(settings)
    try:
        image = await store.read_image(job.page_id)
    finally:
        await store.aclose()
    if image is None:
        return None
    path = settings.data_dir / f"{job.id}.{image.extension}"
    path.write_bytes(image.data)
    return path


def run_demo(prompt: str = PROMPT) -> int:
    console = Console()
    openai = OpenAIEmulator(clock=SystemClock())
    openai.faults.default_batch = BatchPlan(validating=0.5, in_progress=1.0, finalizing=0.5)
    notion = NotionEmulator()
    with serve(openai.app) as openai_url, serve(notion.app) as notion_url:
        settings = demo_settings(get_settings(), openai_url, notion_url, notion)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        console.print(f"OpenAI emulator at {openai_url}/v1, Notion emulator at {notion_url}")
        console.print(f"system database {settings.database()} — prompt: {prompt!r}")
        job = build_job("create", prompt, settings)
        done = run_local(settings, job, wait=True, console=console)
        console.print_json(json.dumps(done.public()))
        if done.status != "succeeded" or done.page_id is None:
            console.print(f"[red]job {done.status}:[/red] {done.error and done.error.message}")
            return 1
        console.rule("the Notion page, as text")
        console.print(notion.render_text(done.page_id), markup=False, highlight=False)
        image = asyncio.run(_save_image(settings, done))
    console.rule()
    console.print(f"job {done.id} succeeded: {len(openai.state.batches)} batches, 1 page")
    console.print(f"image: {image}")
    console.print(f"cost:  ${done.cost_usd:.5f} at batch prices (emulated; nothing was billed)")
    return 0
