"""``POST /api/recipes`` refuses, before anything is uploaded, a job that would fail after
paying: 422 with the doctor's words (503 when Notion itself is failing), and the OpenAI
emulator sees no file and no batch. ``serve`` logs the doctor's problems at start."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from batchcook.api.app import create_app
from batchcook.config import Settings
from batchcook.doctor import SchemaCache, preflight
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.server import serve
from pinned import PINNED_DAY, RETIRED_IMAGE, write_retiring_catalog


def api(settings: Settings) -> Iterator[str]:
    with serve(create_app(settings, manage_engine=False, today=lambda: PINNED_DAY)) as url:
        yield url


@pytest.fixture(name="url")
def url_fixture(service: Settings) -> Iterator[str]:
    yield from api(service)


def post(url: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/recipes", json={"prompt": "pasta carbonara", "request_id": uuid.uuid4().hex}
    )


def nothing_paid(emu: OpenAIEmulator) -> None:
    assert not any(p.startswith(("/v1/files", "/v1/batches")) for p in emu.state.calls)
    assert emu.state.batches == {} and emu.state.files == {}


def test_missing_property_is_422_naming_it(
    url: str, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    notion_emu.set_property("Diet", None)
    notion_emu.set_property("Cook Time (min)", "rich_text")
    r = post(url)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["message"].startswith("recipes database: missing 'Diet' (multi_select)")
    assert "'Cook Time (min)' is rich_text, should be number" in error["message"]
    assert error["checks"] == [
        {"check": "recipes database", "ok": False, "detail": error["message"].split(": ", 1)[1]}
    ]
    nothing_paid(openai_emu)


def test_notion_down_is_503(
    url: str, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    notion_emu.faults.add("GET", r"/v1/databases/", status=503, times=10)
    r = post(url)
    assert r.status_code == 503, r.text
    assert "Notion is not answering" in r.json()["error"]["message"]
    nothing_paid(openai_emu)


def test_retired_image_model_is_422(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator, tmp_path: Path
) -> None:
    settings = service.model_copy(
        update={
            "catalog_path": write_retiring_catalog(tmp_path),
            "image_model": RETIRED_IMAGE,
            "image_size": "1024x1024",
        }
    )
    for url in api(settings):
        r = post(url)
        assert r.status_code == 422, r.text
        message = r.json()["error"]["message"]
        assert f"image model: {RETIRED_IMAGE} was shut down on" in message
        assert "BATCHCOOK_IMAGE_MODEL=gpt-image-2" in message
    nothing_paid(openai_emu)
    assert notion_emu.journal == []


def test_image_size_the_model_refuses_is_422(service: Settings, openai_emu: OpenAIEmulator) -> None:
    # model_copy skips the settings' own check: as a library user's Settings could.
    settings = service.model_copy(
        update={"image_model": "gpt-image-1.5", "image_size": "2048x1152"}
    )
    for url in api(settings):
        r = post(url)
        assert r.status_code == 422, r.text
        assert "image options: BATCHCOOK_IMAGE_SIZE=2048x1152" in r.json()["error"]["message"]
    nothing_paid(openai_emu)


def test_a_good_database_is_read_once_per_ttl(
    service: Settings, notion_emu: NotionEmulator
) -> None:
    cache = SchemaCache(ttl=3600)

    async def twice() -> None:
        for _ in range(2):
            assert (
                await preflight(
                    service, mode="batch", database_id=None, today=PINNED_DAY, cache=cache
                )
                == []
            )

    asyncio.run(twice())
    reads = [r for r in notion_emu.journal if r.method == "GET"]
    assert len(reads) == 2  # the database and its data source, once
    cache.ttl = 0  # expired: read again
    asyncio.run(twice())
    assert len([r for r in notion_emu.journal if r.method == "GET"]) == 6


def test_creates_arriving_together_read_the_database_once(
    service: Settings, notion_emu: NotionEmulator
) -> None:
    """A cold start under load: fifty creates at once share one check, not fifty."""
    cache = SchemaCache(ttl=3600)

    async def together() -> list[list[object]]:
        return await asyncio.gather(
            *(
                preflight(service, mode="batch", database_id=None, today=PINNED_DAY, cache=cache)
                for _ in range(50)
            )
        )

    assert asyncio.run(together()) == [[]] * 50
    assert len([r for r in notion_emu.journal if r.method == "GET"]) == 2


def test_a_refusal_is_not_cached(service: Settings, notion_emu: NotionEmulator) -> None:
    """A database fixed after a refusal is accepted on the next request, not a minute later."""
    cache = SchemaCache(ttl=3600)

    async def check() -> list[str]:
        found = await preflight(service, mode="batch", database_id=None, cache=cache)
        return [c.detail for c in found]

    notion_emu.set_property("Diet", None)
    assert "missing 'Diet' (multi_select)" in asyncio.run(check())[0]
    notion_emu.set_property("Diet", "multi_select")
    assert asyncio.run(check()) == []


def test_serve_logs_each_problem_at_start(
    service: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = service.model_copy(update={"openai_api_key": None})
    app = create_app(settings, manage_engine=False, doctor=True, today=lambda: PINNED_DAY)

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with caplog.at_level(logging.WARNING, logger="batchcook.api.app"):
        asyncio.run(start())
    lines = [r.getMessage() for r in caplog.records if r.name == "batchcook.api.app"]
    assert lines == [
        "doctor: OpenAI key: OPENAI_API_KEY is not set: make one at https://platform.openai.com/api-keys"
    ]


def test_modify_is_refused_the_same_way(
    url: str, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    notion_emu.set_property("Protein Type", None)
    r = httpx.post(
        f"{url}/api/jobs/modify",
        json={"page_id": "0123456789abcdef0123456789abcdef", "request": "make it vegan"},
    )
    assert r.status_code == 422, r.text
    assert "missing 'Protein Type' (multi_select)" in r.json()["error"]["message"]
    nothing_paid(openai_emu)
