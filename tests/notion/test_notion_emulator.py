"""The emulator answers as Notion does, driven through notion-client over HTTP (and raw
httpx where the client cannot send the broken request)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from notion_client import AsyncClient
from notion_client.errors import APIErrorCode, APIResponseError, HTTPResponseError

from batchcook.recipes import notion_mapping as m
from batchcook.recipes.fixtures import carbonara
from batchcook.testing.notion_emulator import NotionEmulator

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
MISSING = "5b0a4c1e-0000-4000-8000-000000000000"


async def create_page(client: AsyncClient, emulator: NotionEmulator, **body: Any) -> Any:
    body.setdefault("properties", m.recipe_properties(carbonara(), job_id="job-1"))
    return await client.pages.create(
        parent={"type": "data_source_id", "data_source_id": emulator.recipes_data_source_id},
        **body,
    )


async def failure(call: Any) -> HTTPResponseError:
    with pytest.raises(HTTPResponseError) as caught:
        await call
    return caught.value


# --- transport: version, auth, routes -----------------------------------------------


async def test_missing_version_is_missing_version(
    notion_url: str, emulator: NotionEmulator
) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{notion_url}/v1/users/me", headers={"Authorization": f"Bearer {emulator.token}"}
        )
    assert response.status_code == 400
    assert response.json()["object"] == "error"
    assert response.json()["code"] == "missing_version"
    assert "Notion-Version header should be defined" in response.json()["message"]


async def test_other_version_is_refused(notion_url: str, emulator: NotionEmulator) -> None:
    old = AsyncClient(auth=emulator.token, base_url=notion_url, notion_version="2022-06-28")
    error = await failure(old.users.me())
    await old.aclose()
    assert (error.status, error.code) == (400, APIErrorCode.ValidationError)
    assert "2025-09-03" in str(error)


async def test_bad_token_is_unauthorized(notion_url: str) -> None:
    wrong = AsyncClient(auth="secret_wrong", base_url=notion_url, retry=False)
    error = await failure(wrong.users.me())
    await wrong.aclose()
    assert (error.status, error.code, str(error)) == (401, "unauthorized", "API token is invalid.")


async def test_unknown_ids_and_urls(client: AsyncClient, emulator: NotionEmulator) -> None:
    for call, kind in [
        (client.pages.retrieve(MISSING), "page"),
        (client.databases.retrieve(MISSING), "database"),
        (client.data_sources.retrieve(MISSING), "data_source"),
        (client.file_uploads.retrieve(MISSING), "file_upload"),
    ]:
        error = await failure(call)
        assert (error.status, error.code) == (404, "object_not_found")
        assert f"Could not find {kind} with ID: {MISSING}" in str(error)
    # The database id is not its data source's id (2025-09-03).
    error = await failure(client.data_sources.retrieve(emulator.recipes_database_id))
    assert error.status == 404
    error = await failure(client.pages.retrieve("not-a-uuid"))
    assert (error.status, error.code) == (400, "validation_error")
    error = await failure(client.request(path="nowhere", method="GET"))
    assert (error.status, error.code) == (400, "invalid_request_url")


async def test_unshared_database_is_not_found(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    hidden, _ = emulator.workspace.add_database("Private", {"Name": "title"}, shared=False)
    error = await failure(client.databases.retrieve(hidden))
    assert error.code == "object_not_found" and "shared with your integration" in str(error)


async def test_missing_capability_is_restricted(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    emulator.workspace.integration.capabilities = frozenset({"read"})
    error = await failure(create_page(client, emulator))
    assert (error.status, error.code) == (403, "restricted_resource")


# --- databases, data sources, users -------------------------------------------------


async def test_database_resolves_to_its_data_source_with_the_recipe_schema(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    database = await client.databases.retrieve(emulator.recipes_database_id)
    [source] = database["data_sources"]
    assert source["id"] == emulator.recipes_data_source_id
    schema = await client.data_sources.retrieve(source["id"])
    types = {name: p["type"] for name, p in schema["properties"].items()}
    assert types == {**m.required_schema(), **m.OPTIONAL_PROPERTIES}
    assert schema["parent"] == {"type": "database_id", "database_id": database["id"]}


async def test_users_me_reports_the_upload_limit_of_the_plan(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    me = await client.users.me()
    assert me["type"] == "bot"
    assert me["bot"]["workspace_limits"]["max_file_upload_size_in_bytes"] == 5 * 1024**3
    emulator.workspace.plan = "free"
    me = await client.users.me()
    assert me["bot"]["workspace_limits"]["max_file_upload_size_in_bytes"] == 5 * 1024**2


async def test_query_filters_on_title_and_rich_text(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    for n in range(3):
        props = m.recipe_properties(
            carbonara().model_copy(update={"title": f"Dish {n}"}), job_id=f"j{n}"
        )
        await create_page(client, emulator, properties=props)
    source = emulator.recipes_data_source_id
    found = await client.data_sources.query(
        source, filter={"property": "Batchcook Job", "rich_text": {"equals": "j1"}}
    )
    assert [p["properties"]["Name"]["title"][0]["plain_text"] for p in found["results"]] == [
        "Dish 1"
    ]
    found = await client.data_sources.query(
        source, filter={"property": "Name", "title": {"starts_with": "Dish"}}, page_size=2
    )
    assert len(found["results"]) == 2 and found["has_more"]
    rest = await client.data_sources.query(
        source,
        filter={"property": "Name", "title": {"starts_with": "Dish"}},
        start_cursor=found["next_cursor"],
    )
    assert len(rest["results"]) == 1 and not rest["has_more"]
    both = await client.data_sources.query(
        source,
        filter={
            "and": [
                {"property": "Name", "title": {"contains": "2"}},
                {"property": "Batchcook Job", "rich_text": {"equals": "j2"}},
            ]
        },
    )
    assert len(both["results"]) == 1
    error = await failure(
        client.data_sources.query(source, filter={"property": "Nope", "rich_text": {"equals": "x"}})
    )
    assert error.code == "validation_error" and "Nope" in str(error)


# --- pages and property validation --------------------------------------------------


async def test_page_create_retrieve_update_trash(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    page = await create_page(client, emulator, children=m.recipe_blocks(carbonara()))
    again = await client.pages.retrieve(page["id"])
    assert again["properties"] == page["properties"]
    assert again["parent"]["data_source_id"] == emulator.recipes_data_source_id
    assert again["properties"]["Prep Time (min)"] == {
        "id": again["properties"]["Prep Time (min)"]["id"],
        "type": "number",
        "number": 10,
    }
    updated = await client.pages.update(page["id"], properties={"Cook Time (min)": {"number": 20}})
    assert updated["properties"]["Cook Time (min)"]["number"] == 20
    assert updated["properties"]["Prep Time (min)"]["number"] == 10
    trashed = await client.pages.update(page["id"], in_trash=True)
    assert trashed["in_trash"] is True
    error = await failure(client.pages.update(page["id"], properties={"Fat (g)": {"number": 1}}))
    assert "archived" in str(error)
    found = await client.data_sources.query(emulator.recipes_data_source_id)
    assert found["results"] == []
    restored = await client.pages.update(page["id"], in_trash=False)
    assert restored["in_trash"] is False


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"Colour": {"rich_text": []}}, "Colour is not a property that exists."),
        ({"Prep Time (min)": {"rich_text": []}}, "Prep Time (min) is expected to be number."),
        ({"Prep Time (min)": {"number": "ten"}}, "Prep Time (min) is expected to be number."),
        ({"Name": {"rich_text": []}}, "Name is expected to be title."),
        (
            {"Description": {"rich_text": [{"text": {"content": "x" * 2001}}]}},
            "body failed validation: body.properties.Description.rich_text[0].text.content"
            ".length should be ≤ `2000`, instead was `2001`.",
        ),
        (
            {"Diet": {"multi_select": [{"name": "Low-fat, vegan"}]}},
            "Invalid select option, commas not allowed: Low-fat, vegan",
        ),
        (
            {"Serving Size": {"rich_text": [{"text": {"content": "x"}}] * 101}},
            "body failed validation: body.properties.Serving Size.rich_text.length should be "
            "≤ `100`, instead was `101`.",
        ),
    ],
)
async def test_property_validation_errors(
    client: AsyncClient, emulator: NotionEmulator, properties: Any, message: str
) -> None:
    error = await failure(create_page(client, emulator, properties=properties))
    assert isinstance(error, APIResponseError)
    assert (error.status, error.code, str(error)) == (400, "validation_error", message)
    assert emulator.pages() == []


async def test_too_many_blocks_in_one_request(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    blocks = [m.recipe_blocks(carbonara())[-1]] * 101
    error = await failure(create_page(client, emulator, children=blocks))
    assert str(error) == (
        "body failed validation: body.children.length should be ≤ `100`, instead was `101`."
    )
    page = await create_page(client, emulator)
    error = await failure(client.blocks.children.append(page["id"], children=blocks))
    assert error.code == "validation_error" and "body.children.length" in str(error)


async def test_new_select_options_join_the_schema(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    props = {"Country of Origin": {"select": {"name": "Peru"}}}
    page = await create_page(client, emulator, properties=props)
    option = page["properties"]["Country of Origin"]["select"]
    assert option["name"] == "Peru" and option["id"]
    schema = await client.data_sources.retrieve(emulator.recipes_data_source_id)
    assert [o["name"] for o in schema["properties"]["Country of Origin"]["select"]["options"]] == [
        "Peru"
    ]


# --- blocks -------------------------------------------------------------------------


async def test_block_children_paginate_append_delete(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    page = await create_page(client, emulator)
    step = {"type": "numbered_list_item", "numbered_list_item": {"rich_text": m.rich_text("s")}}
    made = await client.blocks.children.append(page["id"], children=[step] * 100)
    assert len(made["results"]) == 100
    await client.blocks.children.append(page["id"], children=[step] * 30)
    first = await client.blocks.children.list(page["id"])
    assert len(first["results"]) == 100 and first["has_more"]
    second = await client.blocks.children.list(page["id"], start_cursor=first["next_cursor"])
    assert len(second["results"]) == 30 and not second["has_more"]
    deleted = await client.blocks.delete(first["results"][0]["id"])
    assert deleted["in_trash"] is True
    assert len((await client.blocks.children.list(page["id"], page_size=100))["results"]) == 100
    error = await failure(client.blocks.delete(first["results"][0]["id"]))
    assert error.code == "object_not_found"


async def test_erase_content_clears_the_body(client: AsyncClient, emulator: NotionEmulator) -> None:
    page = await create_page(client, emulator, children=m.recipe_blocks(carbonara()))
    assert (await client.blocks.children.list(page["id"]))["results"]
    await client.pages.update(page["id"], erase_content=True)
    assert (await client.blocks.children.list(page["id"]))["results"] == []


async def test_nesting_deeper_than_two_levels_is_refused(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    leaf = {"type": "paragraph", "paragraph": {"rich_text": m.rich_text("leaf")}}
    middle = {"type": "toggle", "toggle": {"rich_text": m.rich_text("m"), "children": [leaf]}}
    top = {"type": "toggle", "toggle": {"rich_text": m.rich_text("t"), "children": [middle]}}
    error = await failure(create_page(client, emulator, children=[top]))
    assert error.code == "validation_error"
    page = await create_page(client, emulator, children=[middle])
    [toggle] = (await client.blocks.children.list(page["id"]))["results"]
    assert toggle["has_children"] is True


# --- comments -----------------------------------------------------------------------


async def test_comments_mention_users(client: AsyncClient, emulator: NotionEmulator) -> None:
    page = await create_page(client, emulator)
    made = await client.comments.create(
        parent={"page_id": page["id"]}, rich_text=m.ready_comment(carbonara(), emulator.user_id)
    )
    assert made["object"] == "comment"
    listed = await client.comments.list(block_id=page["id"])
    [comment] = listed["results"]
    assert comment["rich_text"][0]["mention"]["user"]["id"] == emulator.user_id
    assert m.plain_text(comment["rich_text"]).startswith("@Alex Cook Your recipe")
    assert (await client.comments.retrieve(made["id"]))["id"] == made["id"]
    error = await failure(client.comments.create(parent={"page_id": MISSING}, rich_text=[]))
    assert error.code == "object_not_found"


# --- file uploads -------------------------------------------------------------------


async def upload(client: AsyncClient, data: bytes = PNG, **create: Any) -> Any:
    made = await client.file_uploads.create(
        **({"filename": "dish.png", "content_type": "image/png"} | create)
    )
    assert made["status"] == "pending" and made["upload_url"].endswith(f"{made['id']}/send")
    return await client.file_uploads.send(made["id"], file=("dish.png", data, "image/png"))


async def test_upload_then_attach_as_cover(
    client: AsyncClient, emulator: NotionEmulator, notion_url: str
) -> None:
    sent = await upload(client)
    assert (sent["status"], sent["content_length"], sent["content_type"]) == (
        "uploaded",
        len(PNG),
        "image/png",
    )
    page = await create_page(
        client, emulator, cover={"type": "file_upload", "file_upload": {"id": sent["id"]}}
    )
    assert page["cover"]["type"] == "file"
    async with httpx.AsyncClient() as http:
        image = await http.get(page["cover"]["file"]["url"])
    assert image.content == PNG and image.headers["content-type"] == "image/png"
    assert (await client.file_uploads.retrieve(sent["id"]))["expiry_time"] is None
    text = emulator.render_text(page["id"])
    assert "Cover: dish.png (image/png" in text
    assert "<img" in emulator.render_html(page["id"], notion_url)
    # Notion-hosted file URLs expire after an hour.
    emulator.clock.advance(3601)
    async with httpx.AsyncClient() as http:
        assert (await http.get(page["cover"]["file"]["url"])).status_code == 403


async def test_uploads_expire_after_an_hour(client: AsyncClient, emulator: NotionEmulator) -> None:
    made = await client.file_uploads.create(filename="dish.png", content_type="image/png")
    emulator.clock.advance(3601)
    assert (await client.file_uploads.retrieve(made["id"]))["status"] == "expired"
    error = await failure(client.file_uploads.send(made["id"], file=("dish.png", PNG, "image/png")))
    assert error.code == "validation_error" and "expired" in str(error)


async def test_pending_or_expired_uploads_cannot_be_attached(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    made = await client.file_uploads.create(filename="dish.png", content_type="image/png")
    cover = {"type": "file_upload", "file_upload": {"id": made["id"]}}
    error = await failure(create_page(client, emulator, cover=cover))
    assert error.code == "validation_error" and "pending" in str(error)


async def test_upload_size_limit_follows_the_plan(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    emulator.workspace.plan = "free"
    big = PNG + b"\0" * (5 * 1024 * 1024)
    error = await failure(upload(client, big))
    assert error.code == "validation_error" and "limit" in str(error)


@pytest.mark.parametrize(
    ("create", "file", "expected"),
    [
        ({"filename": "dish.png", "content_type": "image/jpeg"}, None, "extension"),
        ({"filename": "dish.exe", "content_type": "application/x-msdownload"}, None, "Unsupported"),
        (
            {"filename": "dish.png", "content_type": "image/png"},
            ("dish.png", b"GIF89a", "image/png"),
            "valid image/png",
        ),
        (
            {"filename": "dish.png", "content_type": "image/png"},
            ("dish.jpg", PNG, "image/jpeg"),
            "does not match",
        ),
    ],
)
async def test_upload_content_type_checks(
    client: AsyncClient, create: dict[str, str], file: Any, expected: str
) -> None:
    async def attempt() -> Any:
        made = await client.file_uploads.create(**create)
        return await client.file_uploads.send(made["id"], file=file)

    error = await failure(attempt())
    assert error.code == "validation_error" and expected in str(error)


async def test_raw_bytes_are_not_a_multipart_upload(client: AsyncClient) -> None:
    """notion-client sends bare bytes as a urlencoded form: Notion cannot read that."""
    made = await client.file_uploads.create(filename="dish.png", content_type="image/png")
    error = await failure(client.file_uploads.send(made["id"], file=PNG))
    assert error.code == "validation_error" and "multipart/form-data" in str(error)


# --- rate limit and faults ----------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after(
    client: AsyncClient, emulator: NotionEmulator
) -> None:
    emulator.rate_limit.configure(rate=3.0, burst=3)
    for _ in range(3):
        await client.users.me()
    error = await failure(client.users.me())
    assert (error.status, error.code) == (429, "rate_limited")
    assert error.headers["retry-after"] == "1"
    assert error.additional_data == {"rate_limit_reason": "public_api_request_rate_limit"}
    emulator.clock.advance(1.0)
    await client.users.me()  # the budget refilled: no real waiting in the test


async def test_fault_plans(client: AsyncClient, emulator: NotionEmulator) -> None:
    emulator.faults.add("GET", "/v1/users/me", status=503)
    emulator.faults.add("GET", "/v1/users/me", status=529, retry_after=2)
    error = await failure(client.users.me())
    assert (error.status, error.code) == (503, "service_unavailable")
    error = await failure(client.users.me())
    # notion-client 3.1 does not know service_overload: an "unknown" response error.
    assert error.status == 529 and '"service_overload"' in error.body
    assert error.headers["retry-after"] == "2"
    assert (await client.users.me())["type"] == "bot"
    assert emulator.faults.pending == []


async def test_lost_response_after_commit(client: AsyncClient, emulator: NotionEmulator) -> None:
    emulator.faults.add("POST", "^/v1/pages$", status=500, after_commit=True)
    error = await failure(create_page(client, emulator))
    assert error.status == 500
    assert len(emulator.pages()) == 1


async def test_slow_responses_time_out_the_client(
    notion_url: str, emulator: NotionEmulator
) -> None:
    emulator.faults.add("GET", "/v1/users/me", delay=0.5)
    impatient = AsyncClient(auth=emulator.token, base_url=notion_url, timeout_ms=100, retry=False)
    with pytest.raises(Exception, match="timed out"):
        await impatient.users.me()
    await impatient.aclose()


async def test_render_text(client: AsyncClient, emulator: NotionEmulator) -> None:
    page = await create_page(client, emulator, children=m.recipe_blocks(carbonara()))
    text = emulator.render_text(page["id"])
    assert text.startswith("# Pasta Carbonara\n")
    assert "Ingredients: **Spaghetti** - 400 g\n**Guanciale** - 150 g" in text
    assert "## Preparation\n1. Cut the guanciale into short strips.\n2. Whisk" in text
    assert "## Instructions\n1. Boil the spaghetti" in text
