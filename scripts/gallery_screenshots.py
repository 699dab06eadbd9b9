"""Take the README's screenshots of the gallery (``docs/gallery.png``, ``docs/recipe.png``).

The sample recipes (``batchcook.recipes.fixtures``) are filed in a temporary local store
with the OpenAI emulator's photos, the app is served on a loopback port exactly as
``batchcook serve`` builds it, and Debian's chromium (``apt-get install chromium``) takes
the pictures through Playwright. Re-run it after changing the templates or the CSS, so the
README shows what the code does.

Usage:
    python scripts/gallery_screenshots.py [OUTPUT_DIR [WIDTH]]   # default: docs/ 1000
"""

from __future__ import annotations

import asyncio
import io
import random
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from batchcook.api.app import create_app
from batchcook.config import Settings
from batchcook.recipes.schema import Recipe
from batchcook.stores.base import Image
from batchcook.stores.local import LocalStore
from batchcook.testing.openai_emulator.drawing import draw_dish
from batchcook.testing.openai_emulator.fixtures import shipped_fixtures
from batchcook.testing.server import serve
from batchcook.workflows.runtime import configure

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


async def seed(store: LocalStore) -> str:
    """File the OpenAI emulator's shipped recipes with their drawn dishes, oldest first (as
    ``make demo`` would make them); the id of the one the recipe screenshot shows."""
    ids = []
    fixtures = [f for f in shipped_fixtures().fixtures if f.response and f.image]
    for fixture in reversed(fixtures):  # carbonara, the first, ends up newest
        assert fixture.response is not None and fixture.image is not None
        recipe = Recipe.model_validate(fixture.response)
        buffer = io.BytesIO()
        draw_dish(fixture.image, 1536, 1024, random.Random(fixture.name)).save(
            buffer, "JPEG", quality=85
        )
        photo = Image(buffer.getvalue(), "image/jpeg")
        stored = await store.create(recipe, photo, job_id=f"sample-{fixture.name}")
        ids.append(stored.id)
    return ids[-1]


def main(out: Path, width: int = 1000) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        store = LocalStore(Path(data))
        recipe_id = asyncio.run(seed(store))
        settings = Settings(data_dir=Path(data))
        configure(settings, store=lambda database_id: LocalStore(Path(data)))
        with serve(create_app(settings, manage_engine=False)) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": width, "height": 740})
            page.goto(url)
            page.wait_for_function("() => [...document.images].every(i => i.complete)")
            page.screenshot(path=str(out / "gallery.png"))
            page.goto(f"{url}/recipes/{recipe_id}")
            page.wait_for_function("() => [...document.images].every(i => i.complete)")
            page.screenshot(path=str(out / "recipe.png"), full_page=True)
            browser.close()
    print(f"wrote {out / 'gallery.png'} and {out / 'recipe.png'}")


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs"),
        int(sys.argv[2]) if len(sys.argv) > 2 else 1000,
    )
