"""Databases and schemas over HTTP: ``POST /v1/databases`` (2025-09-03, schema under
``initial_data_source``) and ``PATCH /v1/data_sources/{id}``, refused as Notion refuses
them, so ``batchcook notion init`` cannot pass here and fail on real Notion."""

from __future__ import annotations

from typing import Any

import pytest
from notion_client import AsyncClient
from notion_client.errors import APIResponseError

from batchcook.recipes import notion_mapping as m
from batchcook.recipes.fixtures import carbonara
from batchcook.testing.notion_emulator import NotionEmulator

MISSING = "5b0a4c1e-0000-4000-8000-000000000000"
SCHEMA: dict[str, Any] = {
    "Name": {"title": {}},
    "Kind": {"select": {"options": [{"name": "Soup"}, {"name": "Stew", "color": "red"}]}},
    "Minutes": {"type": "number", "number": {"format": "number"}},
    "Notes": {"rich_text": {}},
}


async def refused(call: Any) -> APIResponseError:
    with pytest.raises(APIResponseError) as caught:
        await call
    return caught.value


async def create(client: AsyncClient, parent: str, **body: Any) -> Any:
    body.setdefault("title", [{"type": "text", "text": {"content": "Soups"}}])
    body.setdefault("initial_data_source", {"properties": SCHEMA})
    return await client.databases.create(parent={"type": "page_id", "page_id": parent}, **body)


async def test_a_page_in_no_database_reads_as_notion_returns_it(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    page = await client.pages.retrieve(emulator.add_page("Kitchen"))
    assert page["parent"] == {"type": "workspace", "workspace": True}
    assert m.plain_text(page["properties"]["title"]["title"]) == "Kitchen"
    error = await refused(client.pages.retrieve(emulator.add_page("Private", shared=False)))
    assert (error.status, error.code) == (404, "object_not_found")


async def test_create_database_under_a_shared_page(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    parent = emulator.add_page("Kitchen")
    database = await create(client, parent.replace("-", ""))
    assert database["object"] == "database"
    assert database["parent"] == {"type": "page_id", "page_id": parent}
    assert m.plain_text(database["title"]) == "Soups"
    assert database["url"].endswith(database["id"].replace("-", ""))
    [source_ref] = database["data_sources"]
    assert source_ref["name"] == "Soups"
    assert (await client.databases.retrieve(database["id"]))["parent"]["page_id"] == parent

    source = await client.data_sources.retrieve(source_ref["id"])
    properties = source["properties"]
    assert {name: p["type"] for name, p in properties.items()} == {
        "Name": "title",
        "Kind": "select",
        "Minutes": "number",
        "Notes": "rich_text",
    }
    options = properties["Kind"]["select"]["options"]
    assert [(o["name"], o["color"]) for o in options][1] == ("Stew", "red")
    assert all(o["id"] and o["color"] for o in options)
    assert source["database_parent"] == {"type": "page_id", "page_id": parent}

    page = await client.pages.create(
        parent={"type": "data_source_id", "data_source_id": source_ref["id"]},
        properties={
            "Name": {"title": [{"text": {"content": "Leek soup"}}]},
            "Kind": {"select": {"name": "Soup"}},
        },
    )
    assert page["properties"]["Kind"]["select"]["name"] == "Soup"


async def test_status_properties_get_notions_default_options(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    schema = {"Name": {"title": {}}, "Stage": {"status": {}}, "Mine": {"status": {"options": []}}}
    database = await create(client, emulator.add_page(), initial_data_source={"properties": schema})
    source = await client.data_sources.retrieve(database["data_sources"][0]["id"])
    stage = source["properties"]["Stage"]["status"]
    assert [o["name"] for o in stage["options"]] == ["Not started", "In progress", "Done"]
    assert [g["name"] for g in stage["groups"]] == ["To-do", "In progress", "Complete"]
    assert source["properties"]["Mine"]["status"]["options"] == []


async def test_without_a_schema_the_database_gets_a_name_title(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    database = await client.databases.create(
        parent={"type": "page_id", "page_id": emulator.add_page()}
    )
    source = await client.data_sources.retrieve(database["data_sources"][0]["id"])
    assert {n: p["type"] for n, p in source["properties"].items()} == {"Name": "title"}


@pytest.mark.parametrize(
    ("parent", "status", "code"),
    [
        ("unshared", 404, "object_not_found"),
        (MISSING, 404, "object_not_found"),
        ("not-an-id", 400, "validation_error"),
    ],
)
async def test_the_parent_page_must_exist_and_be_shared(
    client: AsyncClient, emulator: NotionEmulator, parent: str, status: int, code: str
) -> None:
    if parent == "unshared":
        parent = emulator.add_page("Private", shared=False)
    before = set(emulator.workspace.databases)
    error = await refused(create(client, parent))
    assert (error.status, error.code) == (status, code)
    assert set(emulator.workspace.databases) == before


async def test_a_missing_parent_is_a_validation_error(client: AsyncClient) -> None:
    error = await refused(client.databases.create(title=[], initial_data_source={}))
    assert (error.status, error.code) == (400, "validation_error")
    assert "body.parent" in error.body


BAD_SCHEMAS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown type", {"Name": {"title": {}}, "Due": {"deadline": {}}}, "Fix one"),
    ("unknown declared type", {"Name": {"title": {}}, "Due": {"type": "deadline"}}, "Fix one"),
    ("two types", {"Name": {"title": {}}, "X": {"number": {}, "url": {}}}, "one property type"),
    ("type without config", {"Name": {"title": {}}, "X": {"type": "number"}}, "X.number"),
    ("no title", {"Notes": {"rich_text": {}}}, "Title is not provided"),
    ("two titles", {"Name": {"title": {}}, "Other": {"title": {}}}, "Multiple title"),
    ("comma", {"Name": {"title": {}}, "K": {"select": {"options": [{"name": "a,b"}]}}}, "comma"),
    (
        "color",
        {"Name": {"title": {}}, "K": {"select": {"options": [{"name": "a", "color": "x"}]}}},
        "color",
    ),
    ("status option", {"Name": {"title": {}}, "S": {"status": {"options": [{"x": 1}]}}}, ".name"),
    ("not an object", {"Name": "title"}, "should be an object"),
]


@pytest.mark.parametrize(
    ("case", "properties", "says"), BAD_SCHEMAS, ids=[c for c, *_ in BAD_SCHEMAS]
)
async def test_schemas_notion_refuses_are_refused(
    client: AsyncClient, emulator: NotionEmulator, case: str, properties: Any, says: str
) -> None:
    parent = emulator.add_page()
    before = set(emulator.workspace.databases)
    error = await refused(create(client, parent, initial_data_source={"properties": properties}))
    assert (error.status, error.code) == (400, "validation_error"), case
    assert says in error.body, error.body
    assert set(emulator.workspace.databases) == before


async def test_title_limits(client: AsyncClient, emulator: NotionEmulator) -> None:
    parent = emulator.add_page()
    long = [{"text": {"content": "x" * 2001}}]
    error = await refused(create(client, parent, title=long))
    assert "body.title[0].text.content.length should be ≤ `2000`" in error.body
    many = [{"text": {"content": "x"}}] * 101
    error = await refused(create(client, parent, title=many))
    assert "body.title.length should be ≤ `100`" in error.body


async def test_update_data_source_adds_renames_retypes_and_removes(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    source_id = emulator.recipes_data_source_id
    page = await client.pages.create(
        parent={"type": "data_source_id", "data_source_id": source_id},
        properties=m.recipe_properties(carbonara(), job_id="job-1"),
    )
    fiber_id = emulator.workspace.recipes.properties["Fiber (g)"]["id"]
    updated = await client.data_sources.update(
        source_id,
        properties={
            "Rating": {"number": {"format": "number"}},
            "Difficulty": {"name": "Level"},
            fiber_id: None,
            "Serving Size": {"number": {}},
            m.STATUS: {"select": {"options": [{"name": "Archived"}]}},
        },
    )
    types = {name: p["type"] for name, p in updated["properties"].items()}
    assert types["Rating"] == "number" and types["Level"] == "select"
    assert "Difficulty" not in types and "Fiber (g)" not in types
    assert types["Serving Size"] == "number"
    status_options = updated["properties"][m.STATUS]["select"]["options"]
    assert [o["name"] for o in status_options][-1] == "Archived"
    read = (await client.pages.retrieve(page["id"]))["properties"]
    assert read["Level"]["select"]["name"] == carbonara().difficulty  # kept under the new name
    assert read["Serving Size"]["number"] is None  # retyped: the old text is gone


@pytest.mark.parametrize(
    ("properties", "says"),
    [
        ({"Second": {"title": {}}}, "Multiple title"),
        ({m.NAME: None}, "title property"),
        ({m.NAME: {"rich_text": {}}}, "title property"),
        ({"Nope": None}, "Nope is not a property that exists"),
        ({"Nope": {"name": "Still nope"}}, "Nope is not a property that exists"),
        ({"Due": {"deadline": {}}}, "Fix one"),
        ({"Difficulty": {"name": "Diet"}}, "already exists"),
    ],
)
async def test_schema_updates_notion_refuses_change_nothing(
    client: AsyncClient, emulator: NotionEmulator, properties: Any, says: str
) -> None:
    before = {n: dict(p) for n, p in emulator.workspace.recipes.properties.items()}
    error = await refused(
        client.data_sources.update(emulator.recipes_data_source_id, properties=properties)
    )
    assert (error.status, error.code) == (400, "validation_error")
    assert says in error.body, error.body
    assert emulator.workspace.recipes.properties == before


async def test_schema_updates_need_the_update_capability(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    emulator.workspace.integration.capabilities = frozenset({"read", "insert"})
    error = await refused(
        client.data_sources.update(
            emulator.recipes_data_source_id, properties={"X": {"rich_text": {}}}
        )
    )
    assert (error.status, error.code) == (403, "restricted_resource")
