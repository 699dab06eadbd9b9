"""The Notion store's own duties: request budget, limits, retries, crash recovery and
errors that name what to fix. All through notion-client against the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from notion_client.errors import HTTPResponseError

from batchcook.recipes.fixtures import carbonara
from batchcook.recipes.notion_mapping import normalise_for_notion, required_schema
from batchcook.stores.base import Image, RecipeNotFound, StoreError
from batchcook.stores.notion import (
    NotionAPIError,
    NotionStore,
    Pacer,
    RetryPolicy,
    SchemaMismatchError,
)
from batchcook.stores.notion.errors import translate
from batchcook.testing.notion_emulator import NotionEmulator


def calls(emulator: NotionEmulator, start: int = 0) -> list[str]:
    return [f"{r.method} {r.path.split('/')[2]}" for r in emulator.journal[start:]]


async def test_requests_per_create_update_and_read(
    notion_store: NotionStore, emulator: NotionEmulator, photo: Image
) -> None:
    stored = await notion_store.create(carbonara(), photo, job_id="job-1")
    assert calls(emulator) == [
        "GET databases",  # once per store: database → data source
        "GET data_sources",  # once per store: schema check
        "POST data_sources",  # job-id lookup
        "GET users",  # once per store: upload limit
        "POST file_uploads",
        "POST file_uploads",  # send (multipart)
        "POST pages",  # properties, body and cover in one request
        "POST comments",
    ]
    mark = len(emulator.journal)
    await notion_store.create(carbonara(), photo, job_id="job-2")
    assert len(emulator.journal) - mark == 5
    mark = len(emulator.journal)
    await notion_store.update(stored.id, carbonara(), photo)
    assert calls(emulator, mark) == [
        "GET pages",  # is it ours?
        "POST file_uploads",
        "POST file_uploads",
        "PATCH pages",  # properties + cover + erase_content
        "PATCH blocks",  # the new body
        "POST comments",
    ]
    mark = len(emulator.journal)
    await notion_store.read(stored.id)
    assert calls(emulator, mark) == ["GET pages", "GET blocks"]


async def test_long_text_and_many_steps_stay_within_limits(
    notion_store: NotionStore, emulator: NotionEmulator
) -> None:
    recipe = carbonara().model_copy(
        update={
            "description": "Rich. " * 900,
            "instructions": [f"Step {n}: " + "stir " * 500 for n in range(230)],
        }
    )
    stored = await notion_store.create(recipe, None, job_id="job-1")
    assert await notion_store.read(stored.id) == normalise_for_notion(recipe)
    appends = [r for r in emulator.journal if r.method == "PATCH" and "/children" in r.path]
    assert len(appends) >= 2  # the body did not fit in one request
    await notion_store.update(stored.id, recipe, None)
    assert await notion_store.read(stored.id) == normalise_for_notion(recipe)


async def test_retries_429_and_529_and_5xx_reads(
    notion_store: NotionStore, emulator: NotionEmulator, photo: Image
) -> None:
    emulator.faults.add("POST", "^/v1/pages$", status=429, retry_after=0, times=2)
    emulator.faults.add("POST", "/send$", status=529, times=2)
    emulator.faults.add("GET", "/v1/databases/", status=503)
    emulator.faults.add("POST", "/v1/comments", status=529, retry_after=0)
    stored = await notion_store.create(carbonara(), photo, job_id="job-1")
    assert emulator.faults.pending == []
    assert len(emulator.pages()) == 1
    assert len(await notion_store.comments(stored.id)) == 1
    assert await notion_store.read_image(stored.id) == photo


async def test_retry_after_is_honoured(
    make_store: Callable[..., NotionStore], emulator: NotionEmulator
) -> None:
    store = make_store()
    await store.data_source_id()
    emulator.faults.add("POST", "/query$", status=429, retry_after=1)
    started = time.monotonic()
    assert await store.find_by_job("job-1") is None
    assert time.monotonic() - started >= 1.0


async def test_gives_up_with_notions_code(
    make_store: Callable[..., NotionStore], emulator: NotionEmulator
) -> None:
    emulator.faults.add("GET", "/v1/databases/", status=529, times=1000)
    store = make_store(retry=RetryPolicy(base_delay=0.01, max_retry_after=0.2))
    with pytest.raises(NotionAPIError) as caught:
        await store.data_source_id()
    assert caught.value.code == "service_overload" and caught.value.status == 529
    assert "gave up after waiting" in str(caught.value)
    emulator.faults.clear()
    emulator.faults.add("GET", "/v1/databases/", status=502, times=1000)
    with pytest.raises(NotionAPIError) as caught:
        await make_store().data_source_id()
    assert caught.value.code == "bad_gateway"
    assert "gave up after 5 attempts" in str(caught.value)


async def test_lost_page_create_response_does_not_duplicate(
    notion_store: NotionStore, emulator: NotionEmulator, photo: Image
) -> None:
    """Notion saved the page but the answer was a 503: the store looks before it writes."""
    emulator.faults.add("POST", "^/v1/pages$", status=503, after_commit=True)
    stored = await notion_store.create(carbonara(), photo, job_id="job-1")
    assert [p.id for p in emulator.pages()] == [stored.id]
    assert await notion_store.read(stored.id) == normalise_for_notion(carbonara())
    assert len(await notion_store.comments(stored.id)) == 1


async def test_lost_comment_response_does_not_duplicate(
    notion_store: NotionStore, emulator: NotionEmulator
) -> None:
    emulator.faults.add("POST", "/v1/comments", status=502, after_commit=True)
    stored = await notion_store.create(carbonara(), None, job_id="job-1")
    assert len(await notion_store.comments(stored.id)) == 1


async def test_lost_append_response_rewrites_the_body_once(
    notion_store: NotionStore, emulator: NotionEmulator
) -> None:
    emulator.faults.add("PATCH", "/children$", status=500, after_commit=True)
    stored = await notion_store.create(carbonara(), None, job_id="job-1")
    await notion_store.update(stored.id, carbonara(), None)
    assert await notion_store.read(stored.id) == normalise_for_notion(carbonara())


async def test_a_retried_step_after_a_crash_finishes_the_same_page(
    make_store: Callable[..., NotionStore], emulator: NotionEmulator
) -> None:
    """The process dies after the page is made (here: comments keep failing until the
    store gives up). The workflow retries the step with a new store: same page, finished."""
    emulator.faults.add("POST", "/v1/comments", status=500, times=20)
    with pytest.raises(StoreError):
        await make_store().create(carbonara(), None, job_id="job-1")
    [page] = emulator.pages()
    emulator.faults.clear()
    stored = await make_store().create(carbonara(), None, job_id="job-1")
    assert stored.id == page.id and len(emulator.pages()) == 1
    comments = [c for c in emulator.workspace.comments.values() if c.page_id == page.id]
    assert len(comments) == 1


async def test_slow_reads_are_retried(
    make_store: Callable[..., NotionStore], emulator: NotionEmulator
) -> None:
    emulator.faults.add("GET", "/v1/databases/", delay=0.6)
    store = make_store(timeout=0.3)
    assert await store.data_source_id() == emulator.recipes_data_source_id


async def test_concurrent_jobs_share_one_pace(
    make_store: Callable[..., NotionStore], emulator: NotionEmulator
) -> None:
    """Two stores (two jobs) on one token at 20 req/s: 12 requests take ≥ 0.5 s."""
    pacer = Pacer(rate=20)
    stores = [make_store(pacer=pacer), make_store(pacer=pacer)]
    started = time.monotonic()
    await asyncio.gather(*(s.find_by_job(f"job-{n}") for s in stores for n in range(4)))
    elapsed = time.monotonic() - started
    assert pacer.requests == 12  # 2 × (database + data source) + 8 lookups
    assert elapsed >= 11 / 20


# --- errors that say what to fix ----------------------------------------------------


async def test_missing_and_mistyped_properties_are_named(
    notion_store: NotionStore, emulator: NotionEmulator
) -> None:
    emulator.set_property("Batchcook Job", None)
    emulator.set_property("Prep Time (min)", "rich_text")
    with pytest.raises(SchemaMismatchError) as caught:
        await notion_store.create(carbonara(), None, job_id="job-1")
    message = str(caught.value)
    assert "add property 'Batchcook Job' of type rich_text" in message
    assert "property 'Prep Time (min)' is rich_text; change it to number" in message
    assert emulator.pages() == []


async def test_schema_changed_after_resolution_names_property_and_type(
    notion_store: NotionStore, emulator: NotionEmulator
) -> None:
    await notion_store.data_source_id()
    emulator.set_property("Calories (cal)", "rich_text")
    with pytest.raises(NotionAPIError) as caught:
        await notion_store.create(carbonara(), None, job_id="job-1")
    error = caught.value
    assert (error.code, error.property_name, error.expected_type) == (
        "validation_error",
        "Calories (cal)",
        "rich_text",
    )
    assert "Calories (cal)" in str(error) and "batchcook writes number" in str(error)
    emulator.set_property("Fiber (g)", None)
    emulator.set_property("Calories (cal)", "number")
    with pytest.raises(NotionAPIError) as caught:
        await notion_store.create(carbonara(), None, job_id="job-2")
    assert caught.value.property_name == "Fiber (g)"
    assert "has no property 'Fiber (g)'; add it with type number" in str(caught.value)


async def test_unknown_or_unshared_database(
    make_store: Callable[..., NotionStore], emulator: NotionEmulator
) -> None:
    hidden, _ = emulator.workspace.add_database("Private", {"Name": "title"}, shared=False)
    with pytest.raises(StoreError, match=r"NOTION_RECIPES_DATABASE_ID.*Connections"):
        await make_store(database_id=hidden).data_source_id()


async def test_bad_token_and_missing_capability(
    make_store: Callable[..., NotionStore], emulator: NotionEmulator
) -> None:
    with pytest.raises(NotionAPIError, match="check NOTION_TOKEN") as caught:
        await make_store(token="secret_not_the_one").data_source_id()
    assert caught.value.code == "unauthorized"
    assert "secret_not_the_one" not in str(caught.value)
    emulator.workspace.integration.capabilities = frozenset({"read"})
    with pytest.raises(NotionAPIError, match="Insert content") as caught:
        await make_store().create(carbonara(), None, job_id="job-1")
    assert caught.value.code == "restricted_resource"


async def test_pages_outside_the_recipes_database_are_refused(
    notion_store: NotionStore, make_store: Callable[..., NotionStore], emulator: NotionEmulator
) -> None:
    other_db, _ = emulator.workspace.add_database("Other recipes", required_schema())
    elsewhere = await make_store(database_id=other_db).create(carbonara(), None, job_id="job-1")
    with pytest.raises(RecipeNotFound, match="not in the recipes database"):
        await notion_store.update(elsewhere.id, carbonara(), None)
    with pytest.raises(RecipeNotFound, match="not in the recipes database"):
        await notion_store.read(elsewhere.id)


async def test_image_over_the_workspace_limit_is_refused_before_upload(
    notion_store: NotionStore, emulator: NotionEmulator
) -> None:
    emulator.workspace.plan = "free"
    huge = Image(b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024), "image/jpeg")
    with pytest.raises(StoreError, match="accepts files up to 5242880 bytes"):
        await notion_store.create(carbonara(), huge, job_id="job-1")
    assert not any(r.path.startswith("/v1/file_uploads") for r in emulator.journal)


async def test_no_secret_in_reprs_or_errors(
    make_store: Callable[..., NotionStore], emulator: NotionEmulator
) -> None:
    store = make_store(token="secret_very_private")
    with pytest.raises(NotionAPIError) as caught:
        await store.data_source_id()
    for text in (repr(store), str(caught.value), repr(caught.value)):
        assert "secret_very_private" not in text


@pytest.mark.parametrize(
    ("body", "property_name", "expected_type", "advice"),
    [
        ({"properties": {"Colour": {"rich_text": []}}}, "Colour", None, "has no property 'Colour'"),
        (
            {"properties": {"Fat (g)": {"rich_text": []}}},
            "Fat (g)",
            "number",
            "property 'Fat (g)' in the recipes database has type number",
        ),
        (
            {"properties": {"Description": {"rich_text": [{"text": {"content": "x" * 2001}}]}}},
            "Description",
            "rich_text",
            "the value for property 'Description' (rich_text) breaks a Notion limit",
        ),
        (
            {"properties": {}, "children": [{"paragraph": {"rich_text": []}}] * 101},
            None,
            None,
            "the page body breaks a Notion limit",
        ),
    ],
)
async def test_every_validation_error_reads_clearly(
    notion_store: NotionStore,
    emulator: NotionEmulator,
    body: dict[str, object],
    property_name: str | None,
    expected_type: str | None,
    advice: str,
) -> None:
    """What Notion says for each validation error, as the store reports it."""
    parent = {"type": "data_source_id", "data_source_id": emulator.recipes_data_source_id}
    with pytest.raises(HTTPResponseError) as caught:
        await notion_store.client.pages.create(parent=parent, **body)
    error = translate(caught.value, "Creating the recipe page", notion_store.schema)
    assert (error.code, error.property_name, error.expected_type) == (
        "validation_error",
        property_name,
        expected_type,
    )
    assert str(error).startswith("Creating the recipe page failed: ")
    assert advice in str(error) and caught.value.body and error.notion_message in str(error)


async def test_placeholder_then_fill_and_without_status_properties(
    notion_store: NotionStore, emulator: NotionEmulator, photo: Image
) -> None:
    placed = await notion_store.placeholder("Slow braise", "job-p", ["batch_a", "batch_b"])
    assert await notion_store.placeholder("Slow braise", "job-p", ["batch_a"]) == placed
    text = emulator.render_text(placed.id)
    assert "Status: Generating" in text and "batch_a, batch_b" in text
    filled = await notion_store.create(carbonara(), photo, job_id="job-p")
    assert filled.id == placed.id and len(emulator.pages()) == 1
    text = emulator.render_text(placed.id)
    assert "Status: Ready" in text and "Cover:" in text
    assert await notion_store.read(placed.id) == carbonara()


async def test_a_database_without_status_still_works(
    emulator: NotionEmulator, make_store: Callable[..., NotionStore], photo: Image
) -> None:
    emulator.set_property("Status", None)
    emulator.set_property("Batch IDs", None)
    store = make_store()
    placed = await store.placeholder("Soup", "job-q", ["batch_x"])
    assert "Status" not in emulator.render_text(placed.id)
    await store.mark_failed("job-q", "the batch expired")
    assert "Recipe generation failed: the batch expired" in emulator.render_text(placed.id)
    done = await store.create(carbonara(), photo, job_id="job-q")
    assert done.id == placed.id and "Ingredients:" in emulator.render_text(placed.id)
