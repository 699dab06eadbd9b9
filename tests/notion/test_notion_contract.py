"""Our requests checked against Notion's own API descriptions, so the emulator is not the
only judge: the official (partial) OpenAPI file validates the bodies, and the official JS
SDK's generated endpoint table says which body fields each endpoint takes.

The OpenAPI file ships with Notion's MCP server and lags the API in a few places. Each
relaxation below names the place and the official type that says otherwise; everything
else in the file is enforced as is.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from batchcook.recipes.fixtures import carbonara
from batchcook.stores.base import Image
from batchcook.stores.notion import NotionStore, setup
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.notion_emulator.validation import PROPERTY_TYPES

SPECS = Path(__file__).parent / "specs"
TEXT_BLOCKS = ("quote", "heading_2", "numbered_list_item", "paragraph", "bulleted_list_item")


def openapi() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((SPECS / "notion-mcp-server-openapi.json").read_text())
    schemas = spec["components"]["schemas"]
    # The file's "data source" parent is still the database_id one (TS:
    # `{ type?: "data_source_id"; data_source_id: IdRequest }`).
    schemas["dataSourceIdParentRequest"] = {
        "type": "object",
        "properties": {
            "type": {"const": "data_source_id"},
            "data_source_id": {"type": "string", "format": "uuid"},
        },
        "required": ["data_source_id"],
    }
    # Blocks: the file models paragraph and bulleted items only, without `object: "block"`
    # (TS `BlockObjectRequest` has every block type and `object?: "block"`).
    schemas["blockObjectRequest"] = {
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "object": {"const": "block"},
                    "type": {"const": kind},
                    kind: {
                        "type": "object",
                        "properties": {
                            "rich_text": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/richTextRequest"},
                                "maxItems": 100,
                            },
                            "is_toggleable": {"type": "boolean"},
                        },
                        "additionalProperties": False,
                        "required": ["rich_text"],
                    },
                },
                "required": [kind],
                "additionalProperties": False,
            }
            for kind in TEXT_BLOCKS
        ]
    }
    return spec


def request_schema(spec: dict[str, Any], method: str, template: str) -> dict[str, Any] | None:
    operation = spec["paths"].get(template, {}).get(method.lower())
    if operation is None or "requestBody" not in operation:
        return None
    schema = copy.deepcopy(operation["requestBody"]["content"]["application/json"]["schema"])
    props = schema.get("properties", {})
    if template == "/v1/pages" and method == "POST":
        # MCP passes `children` and `cover` as JSON strings; the API takes objects
        # (TS `children?: Array<BlockObjectRequest>`, `cover?: PageCoverRequest`).
        props["children"] = {
            "type": "array",
            "items": {"$ref": "#/components/schemas/blockObjectRequest"},
            "maxItems": 100,
        }
        props["cover"] = FILE_UPLOAD_COVER
    if template == "/v1/pages/{page_id}" and method == "PATCH":
        # The file allows external covers only (TS `PageCoverRequest` adds file_upload).
        props["cover"] = FILE_UPLOAD_COVER
    if template == "/v1/comments":
        # The file's rich text has no mentions (TS `MentionRichTextItemRequest`).
        items = props["rich_text"]["items"]
        props["rich_text"]["items"] = {"anyOf": [items, USER_MENTION]}
    return schema


FILE_UPLOAD_COVER = {
    "type": "object",
    "properties": {
        "type": {"const": "file_upload"},
        "file_upload": {
            "type": "object",
            "properties": {"id": {"type": "string"}},
            "required": ["id"],
            "additionalProperties": False,
        },
    },
    "required": ["file_upload"],
    "additionalProperties": False,
}
USER_MENTION = {
    "type": "object",
    "properties": {
        "type": {"const": "mention"},
        "mention": {
            "type": "object",
            "properties": {
                "type": {"const": "user"},
                "user": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}},
                    "required": ["id"],
                },
            },
            "required": ["user"],
        },
    },
    "required": ["mention"],
}


def sdk_endpoints() -> dict[tuple[str, str], set[str]]:
    """``(METHOD, path template) → body fields`` from the SDK's generated endpoint table."""
    source = (SPECS / "notion-api-endpoints.ts").read_text()
    table = {}
    for block in re.finditer(r"export const \w+ = \{(.*?)\n\} as const", source, re.S):
        text = block.group(1)
        method = re.search(r'method: "(\w+)"', text)
        path = re.search(r"path: \([^)]*\): string =>\s*`([^`]*)`", text)
        fields = re.search(r"bodyParams: \[(.*?)\]", text, re.S)
        if method and path and fields:
            template = "/v1/" + re.sub(r"\$\{p\.(\w+)\}", r"{\1}", path.group(1))
            table[(method.group(1).upper(), template)] = set(
                re.findall(r'"(\w+)"', fields.group(1))
            )
    return table


def template_of(path: str, templates: list[str]) -> str:
    for template in templates:
        pattern = "^" + re.sub(r"\{\w+\}", "[^/]+", template) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"no official path for {path}")


@pytest.fixture
async def traffic(
    notion_store: NotionStore, emulator: NotionEmulator, photo: Image
) -> NotionEmulator:
    """Every kind of request the store sends."""
    stored = await notion_store.create(carbonara(), photo, job_id="job-1")
    await notion_store.update(
        stored.id, carbonara().model_copy(update={"change_description": "x"}), photo
    )
    await notion_store.read(stored.id)
    await notion_store.comments(stored.id)
    assert all(r.status == 200 for r in emulator.journal)
    return emulator


def test_the_sdk_table_is_parsed() -> None:
    table = sdk_endpoints()
    assert "erase_content" in table[("PATCH", "/v1/pages/{page_id}")]
    assert table[("PATCH", "/v1/blocks/{block_id}/children")] == {"after", "children", "position"}


async def test_request_bodies_validate_against_the_official_openapi(
    traffic: NotionEmulator,
) -> None:
    spec = openapi()
    checked = set()
    for record in traffic.journal:
        if not isinstance(record.body, dict) or "file" in record.body:
            continue
        template = template_of(record.path, [*spec["paths"], "/v1/file_uploads"])
        schema = request_schema(spec, record.method, template)
        if schema is None:
            continue  # not in the partial file (file uploads)
        validator = Draft202012Validator(
            {**schema, "components": spec["components"]},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        errors = [
            f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(record.body)
        ]
        assert errors == [], f"{record.method} {template}"
        checked.add(f"{record.method} {template}")
    assert checked == {
        "POST /v1/pages",
        "PATCH /v1/pages/{page_id}",
        "PATCH /v1/blocks/{block_id}/children",
        "POST /v1/comments",
        "POST /v1/data_sources/{data_source_id}/query",
    }


async def test_request_fields_are_ones_the_official_sdk_sends(traffic: NotionEmulator) -> None:
    table = sdk_endpoints()
    templates = [template for _, template in table]
    checked = set()
    for record in traffic.journal:
        if not isinstance(record.body, dict) or record.path == "/v1/comments":
            continue  # comments are not in the copied SDK files
        template = template_of(record.path, templates)
        if record.path.endswith("/send"):
            continue  # multipart, not a JSON body
        assert set(record.body) <= table[(record.method, template)], f"{record.method} {template}"
        checked.add(template)
    assert {"/v1/pages", "/v1/file_uploads", "/v1/blocks/{block_id}/children"} <= checked


def test_the_openapi_check_can_fail() -> None:
    spec = openapi()
    schema = request_schema(spec, "POST", "/v1/pages")
    assert schema is not None
    validator = Draft202012Validator(
        {**schema, "components": spec["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    heading = {
        "type": "heading_2",
        "heading_2": {"rich_text": [{"text": {"content": "x"}, "bold": 1}]},
    }
    assert not validator.is_valid({"parent": {"data_source_id": "nope"}, "properties": {}})
    assert not validator.is_valid({"properties": {}})
    assert not validator.is_valid(
        {"parent": {"page_id": "p"}, "properties": {}, "children": [heading]}
    )


def ts_keys(name: str) -> tuple[set[str], set[str]]:
    """Required and optional top-level fields of an object type in the SDK's types."""
    source = (SPECS / "notion-api-endpoints.ts").read_text()
    found = re.search(rf"^export type {name} = \{{\n(.*?)\n\}}", source, re.S | re.M)
    assert found, name
    required, optional = set(), set()
    for line in found.group(1).split("\n"):
        field = re.match(r"^  (\w+)(\??):", line)
        if field:
            (optional if field.group(2) else required).add(field.group(1))
    return required, optional


async def test_emulator_answers_in_the_official_object_shapes(
    notion_store: NotionStore, emulator: NotionEmulator, photo: Image
) -> None:
    """The emulator's responses carry every field the SDK's types require, and no field
    they do not declare."""
    stored = await notion_store.create(carbonara(), photo, job_id="job-1")
    client = notion_store.client
    upload = await client.file_uploads.create(filename="a.png", content_type="image/png")
    children = await client.blocks.children.list(stored.id)
    answers = {
        "PageObjectResponse": await client.pages.retrieve(stored.id),
        "DatabaseObjectResponse": await client.databases.retrieve(emulator.recipes_database_id),
        "DataSourceObjectResponse": await client.data_sources.retrieve(
            emulator.recipes_data_source_id
        ),
        "QueryDataSourceResponse": await client.data_sources.query(emulator.recipes_data_source_id),
        "ListBlockChildrenResponse": children,
        "FileUploadObjectResponse": upload,
        "QuoteBlockObjectResponse": children["results"][0],
        "Heading2BlockObjectResponse": children["results"][1],
        "NumberedListItemBlockObjectResponse": children["results"][2],
    }
    for name, answer in answers.items():
        required, optional = ts_keys(name)
        assert required - set(answer) == set(), f"{name} lacks fields"
        assert set(answer) - required - optional == set(), f"{name} has undeclared fields"
    required, _ = ts_keys("BotUserObjectResponse")
    assert required <= set(await client.users.me())


# --- the setup requests (batchcook notion init) ------------------------------------------


def ts_property_types() -> dict[str, set[str]]:
    """Property type → the keys its configuration object takes, from the SDK's
    ``<Type>PropertyConfigurationRequest`` types."""
    source = (SPECS / "notion-api-endpoints.ts").read_text()
    found = {}
    for block in re.finditer(
        r"^type \w+PropertyConfigurationRequest = \{\n(.*?)\n\}", source, re.S | re.M
    ):
        kind = re.search(r'type\?: "(\w+)"', block.group(1))
        if kind:
            inner = re.search(
                rf"^  {kind.group(1)}: (.*?)(?=\n  \w|\Z)", block.group(1), re.S | re.M
            )
            text = inner.group(1) if inner else ""
            found[kind.group(1)] = set(re.findall(r"(?:^    |\{ )(\w+)\??:", text, re.M))
    return found


def test_the_emulator_knows_every_property_type_of_the_api() -> None:
    assert set(ts_property_types()) == PROPERTY_TYPES


async def test_setup_requests_are_ones_the_official_sdk_and_openapi_take(
    notion_store: NotionStore, emulator: NotionEmulator
) -> None:
    await setup.create_database(notion_store, emulator.add_page(), "Recipes")
    emulator.set_property("Difficulty", None)
    await setup.fix_database(notion_store, emulator.recipes_database_id)
    bodies = {(r.method, r.path.split("/")[2]): r.body for r in emulator.journal if r.body}
    create = bodies[("POST", "databases")]
    patch = bodies[("PATCH", "data_sources")]
    table = sdk_endpoints()
    assert set(create) <= table[("POST", "/v1/databases")]
    assert set(patch) <= table[("PATCH", "/v1/data_sources/{data_source_id}")]
    configs = {**create["initial_data_source"]["properties"], **patch["properties"]}
    kinds = ts_property_types()
    for name, config in configs.items():
        [(kind, inner)] = config.items()
        assert set(inner) <= kinds[kind], name  # e.g. number takes `format`, select `options`
    spec = openapi()
    schema = request_schema(spec, "PATCH", "/v1/data_sources/{data_source_id}")
    assert schema is not None
    validator = Draft202012Validator({**schema, "components": spec["components"]})
    assert list(validator.iter_errors(patch)) == []
    rich_text = Draft202012Validator(
        {"$ref": "#/components/schemas/richTextRequest", "components": spec["components"]}
    )
    assert all(rich_text.is_valid(item) for item in create["title"])
