"""``batchcook demo``: the real service path end to end, with no keys and no network.

Both emulators (OpenAI and Notion) run in this process on loopback ports; the durable engine
runs a ``create`` job exactly as ``batchcook create --wait`` does — batches submitted through
the official SDK, polled, collected, the page filed through notion-client — then the job
record, the page as text and the cover image are shown.

The demo says plainly that it is emulated: the OpenAI emulator answers from its fixtures (a
recipe written for the project when the prompt matches one, schema filler otherwise, and the
demo says which), and the page lives in the Notion emulator, so the link shown is the
emulator's HTML view of it, not a ``notion.so`` address that leads nowhere.

The demo uses its own system database (``<data dir>/demo.sqlite``): a demo interrupted
mid-run must never be resumed by a real worker pointed at the real APIs.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console

from batchcook.api.app import create_app
from batchcook.cli_local import run_local
from batchcook.config import Settings, get_settings
from batchcook.inputs import build_job
from batchcook.jobs import Job
from batchcook.stores.local import LocalStore
from batchcook.stores.notion import NotionStore
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import (
    BatchPlan,
    Fixtures,
    OpenAIEmulator,
    SystemClock,
    shipped_fixtures,
)
from batchcook.testing.openai_emulator.fixtures import shipped_path
from batchcook.testing.server import serve
from batchcook.workflows.runtime import configure

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
    async with NotionStore.from_settings(settings) as store:
        image = await store.read_image(job.page_id)
    if image is None:
        return None
    path = settings.data_dir / f"{job.id}.{image.extension}"
    path.write_bytes(image.data)
    return path


async def _file_for_the_gallery(settings: Settings, job: Job, folder: Path) -> str:
    """The recipe, read back from the Notion page with its cover, filed in a local store of
    its own too, so the gallery shows it as ``batchcook serve`` would without Notion."""
    assert job.page_id is not None
    notion = NotionStore.from_settings(settings)
    try:
        recipe = await notion.read(job.page_id)
        image = await notion.read_image(job.page_id)
    finally:
        await notion.aclose()
    stored = await LocalStore(folder).create(recipe, image, job_id=job.id)
    return stored.id


def page_view_url(notion_url: str, page_id: str) -> str:
    """The Notion emulator's readable HTML view of a page (``/_emulator/pages/{id}``)."""
    return f"{notion_url}/_emulator/pages/{page_id}?format=html"


def _dishes(fixtures: Fixtures) -> str:
    return ", ".join(
        str(f.response.get("title", f.name)) if f.response else f.name for f in fixtures.fixtures
    )


def run_demo(prompt: str = PROMPT, fixtures: Fixtures | None = None, keep: bool = False) -> int:
    """Run one ``create`` job against both emulators and show what it made. ``keep``: serve
    the emulators until Ctrl-C afterwards, so the page's HTML view can be opened."""
    console = Console()
    fixtures = shipped_fixtures() if fixtures is None else fixtures
    openai = OpenAIEmulator(clock=SystemClock(), fixtures=fixtures)
    openai.faults.default_batch = BatchPlan(validating=0.5, in_progress=1.0, finalizing=0.5)
    notion = NotionEmulator()
    console.print(
        "[bold]Emulated run:[/bold] OpenAI and Notion are both emulated in this process — "
        "no API key, no network, no cost."
    )
    if fixtures.response_for(prompt) is not None:
        source = "shipped" if fixtures.source == str(shipped_path()) else fixtures.source
        console.print(
            f"The emulated model answers {prompt!r} with a recipe written for batchcook "
            f"(fixtures: {source}).",
            soft_wrap=True,
        )
    else:
        console.print(
            f"[yellow]No fixture matches {prompt!r}:[/yellow] the emulated model answers with "
            f"schema filler. Recipes in the fixtures: {_dishes(fixtures) or 'none'}."
        )
    with serve(openai.app) as openai_url, serve(notion.app) as notion_url:
        settings = demo_settings(get_settings(), openai_url, notion_url, notion)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        console.print(f"OpenAI emulator at {openai_url}/v1, Notion emulator at {notion_url}")
        console.print(f"system database {settings.database()} — prompt: {prompt!r}")
        job = build_job("create", prompt, settings)
        done = run_local(settings, job, wait=True, console=console)
        record = done.public()
        view = page_view_url(notion_url, done.page_id) if done.page_id else None
        if view is not None:
            # The emulator's page has a notion.so-shaped URL that leads nowhere: show the
            # address that does show the page, for as long as the emulator runs.
            record["page_url"] = view
        console.print_json(json.dumps(record))
        if done.status != "succeeded" or done.page_id is None or view is None:
            console.print(f"[red]job {done.status}:[/red] {done.error and done.error.message}")
            return 1
        console.print(f"page:  {view}", soft_wrap=True)  # one line, so it can be copied
        if keep:
            console.print("        (the Notion emulator's HTML view; open it now)")
        else:
            console.print(
                "        (the Notion emulator's HTML view, there only while the demo runs — "
                "`batchcook demo --keep` keeps it open; the page's text follows)"
            )
        console.rule("the Notion page, as text")
        console.print(notion.render_text(done.page_id), markup=False, highlight=False)
        image = asyncio.run(_save_image(settings, done))
        console.rule()
        console.print(
            f"job {done.id} succeeded: {done.title!r}, {len(openai.state.batches)} batches, "
            "1 page (in the Notion emulator)"
        )
        console.print(f"image: {image} (drawn by the emulator, not a photo)", soft_wrap=True)
        console.print(
            f"cost:  ${done.cost_usd:.5f} at batch prices for these tokens "
            "(emulated: nothing was billed)"
        )
        folder = settings.data_dir / "demo-gallery"
        recipe_id = asyncio.run(_file_for_the_gallery(settings, done, folder))
        local = settings.model_copy(update={"notion_token": None, "data_dir": folder})
        configure(local, store=lambda database_id: LocalStore(folder))
        with serve(create_app(local, worker=False, manage_engine=False)) as gallery_url:
            console.print(f"gallery: {gallery_url}/recipes/{recipe_id}", soft_wrap=True)
            console.print(
                "        (the recipe page as `batchcook serve` shows it, with its schema.org "
                "JSON-LD; the whole gallery at "
                + gallery_url
                + "/"
                + (")" if keep else ", there only while the demo runs)"),
                soft_wrap=True,
            )
            if keep:
                console.print(
                    f"Serving the emulators and the gallery; page at {view} — Ctrl-C to stop.",
                    soft_wrap=True,
                )
                try:
                    threading.Event().wait()
                except KeyboardInterrupt:
                    console.print("stopped")
    return 0
