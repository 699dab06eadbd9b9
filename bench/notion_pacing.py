"""How many Notion requests a recipe costs, and how long 50 creates take at 3 requests/s.

Runs the Notion store against the emulator with the emulator's real rate limiter (3 req/s
average per token, burst 10) and the store's default pacing, over loopback HTTP. Prints
requests per create and per update, then the wall time for N concurrent creates against
the ideal (requests ÷ 3 per second). ``--unpaced`` lets the store send as fast as it likes
and lean on 429 + Retry-After instead, for comparison.

    .venv/bin/python bench/notion_pacing.py [--creates 50] [--unpaced]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import time

from PIL import Image as PILImage

from batchcook.recipes.fixtures import carbonara
from batchcook.stores.base import Image
from batchcook.stores.notion import NotionStore, Pacer
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.server import serve

RATE = 3.0


def photo() -> Image:
    buffer = io.BytesIO()
    PILImage.new("RGB", (1536, 1024), "orange").save(buffer, "JPEG", quality=80)
    return Image(buffer.getvalue(), "image/jpeg")


async def run(url: str, emulator: NotionEmulator, creates: int, unpaced: bool) -> None:
    image = photo()
    store = NotionStore(
        token=emulator.token,
        database_id=emulator.recipes_database_id,
        user_id=emulator.user_id,
        base_url=url,
        pacer=Pacer(rate=1000.0 if unpaced else RATE),
    )
    journal = emulator.journal
    first = await store.create(carbonara(), image, job_id="warm-up")
    setup = len(journal)
    mark = len(journal)
    await store.create(carbonara(), image, job_id="one-more")
    per_create = len(journal) - mark
    mark = len(journal)
    await store.update(first.id, carbonara(), image)
    per_update = len(journal) - mark
    mark = len(journal)
    await store.read(first.id)
    per_read = len(journal) - mark
    print(
        f"requests: first create {setup} (incl. 3 one-time lookups), create {per_create}, "
        f"update {per_update}, read {per_read}"
    )

    # Let the emulator's burst budget refill so the measurement starts from rest.
    emulator.clock.advance(10)
    mark = len(journal)
    limited_before = emulator.rate_limit.limited
    started = time.monotonic()
    await asyncio.gather(
        *(store.create(carbonara(), image, job_id=f"job-{n}") for n in range(creates))
    )
    elapsed = time.monotonic() - started
    sent = len(journal) - mark
    ok = sum(1 for r in journal[mark:] if r.status == 200)
    limited = emulator.rate_limit.limited - limited_before
    ideal = ok / RATE
    print(
        f"{creates} concurrent creates ({'unpaced' if unpaced else 'paced at 3 req/s'}): "
        f"{ok} successful requests, {limited} answered 429, {sent} sent; "
        f"{elapsed:.1f} s vs ideal {ideal:.1f} s ({ok} ÷ {RATE:g}/s), "
        f"{elapsed / ideal:.2f}× ideal"
    )
    await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--creates", type=int, default=50)
    parser.add_argument("--unpaced", action="store_true")
    args = parser.parse_args()
    emulator = NotionEmulator(rate=RATE, burst=10)
    with serve(emulator.app) as url:
        asyncio.run(run(url, emulator, args.creates, args.unpaced))


if __name__ == "__main__":
    main()
