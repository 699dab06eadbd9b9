"""Request validation as Notion does it: property values against the data source's schema,
block trees against the per-request limits, with Notion's ``validation_error`` wording.

Validated input is normalised into the stored (response) shape, so what a client reads back
is what Notion would return for what it sent.
"""

from __future__ import annotations

import uuid
from typing import Any

from batchcook.testing.notion_emulator.errors import (
    body_failed,
    too_long,
    validation,
)

MAX_TEXT = 2000
MAX_ARRAY = 100
MAX_BLOCKS_PER_REQUEST = 1000
MAX_NESTING = 2

ANNOTATION_DEFAULTS: dict[str, Any] = {
    "bold": False,
    "italic": False,
    "strikethrough": False,
    "underline": False,
    "code": False,
    "color": "default",
}

TEXT_BLOCKS = {
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "heading_4",
    "bulleted_list_item",
    "numbered_list_item",
    "quote",
    "to_do",
    "toggle",
    "callout",
}
OTHER_BLOCKS = {"divider", "image"}
COLORS = {
    "default",
    "gray",
    "brown",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "red",
}


def parse_id(value: Any, path: str) -> str:
    """Notion accepts UUIDs with or without dashes and answers with dashes."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise body_failed(path, "a valid uuid", f'"{value}"') from None


def rich_text(items: Any, path: str, users: dict[str, str]) -> list[dict[str, Any]]:
    """Validate a rich-text array; return it as Notion returns it (annotations filled in,
    ``plain_text`` and ``href`` added)."""
    if not isinstance(items, list):
        raise body_failed(path, "an array", type(items).__name__)
    if len(items) > MAX_ARRAY:
        raise too_long(path, MAX_ARRAY, len(items))
    out = []
    for index, item in enumerate(items):
        here = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise body_failed(here, "an object", item)
        kind = item.get("type") or ("mention" if "mention" in item else "text")
        annotations = {**ANNOTATION_DEFAULTS, **(item.get("annotations") or {})}
        if annotations["color"] not in COLORS and not str(annotations["color"]).endswith(
            "_background"
        ):
            raise body_failed(f"{here}.annotations.color", "a valid color", annotations["color"])
        if kind == "text":
            text = item.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("content"), str):
                raise body_failed(f"{here}.text.content", "defined", "undefined")
            content = text["content"]
            if len(content) > MAX_TEXT:
                raise too_long(f"{here}.text.content", MAX_TEXT, len(content))
            link = text.get("link")
            url = link.get("url") if isinstance(link, dict) else None
            out.append(
                {
                    "type": "text",
                    "text": {"content": content, "link": {"url": url} if url else None},
                    "annotations": annotations,
                    "plain_text": content,
                    "href": url,
                }
            )
        elif kind == "mention":
            mention = item.get("mention") or {}
            user = mention.get("user")
            if not isinstance(user, dict) or "id" not in user:
                raise body_failed(f"{here}.mention.user", "defined", "undefined")
            user_id = parse_id(user["id"], f"{here}.mention.user.id")
            name = users.get(user_id, "Unknown user")
            out.append(
                {
                    "type": "mention",
                    "mention": {"type": "user", "user": {"object": "user", "id": user_id}},
                    "annotations": annotations,
                    "plain_text": f"@{name}",
                    "href": None,
                }
            )
        else:
            raise body_failed(f"{here}.type", '"text" or "mention"', kind)
    return out


def property_value(
    name: str, schema: dict[str, Any], value: Any, users: dict[str, str]
) -> tuple[str, Any]:
    """Validate one property value against its schema entry. Returns ``(type, stored)``;
    select options that do not exist yet are added to ``schema`` (Notion does so when the
    integration may edit the database)."""
    kind = schema["type"]
    path = f"body.properties.{name}"
    if not isinstance(value, dict) or kind not in value or value.get("type", kind) != kind:
        raise validation(f"{name} is expected to be {kind}.")
    raw = value[kind]
    if kind in ("title", "rich_text"):
        return kind, rich_text(raw, f"{path}.{kind}", users)
    if kind == "number":
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int | float)):
            raise validation(f"{name} is expected to be number.")
        return kind, raw
    if kind == "checkbox":
        if not isinstance(raw, bool):
            raise validation(f"{name} is expected to be checkbox.")
        return kind, raw
    if kind == "url":
        if raw is not None and (not isinstance(raw, str) or len(raw) > MAX_TEXT):
            raise validation(f"{name} is expected to be url.")
        return kind, raw
    if kind == "select":
        if raw is None:
            return kind, None
        return kind, _option(name, schema, raw, f"{path}.select")
    if kind == "multi_select":
        if not isinstance(raw, list):
            raise validation(f"{name} is expected to be multi_select.")
        if len(raw) > MAX_ARRAY:
            raise too_long(f"{path}.multi_select", MAX_ARRAY, len(raw))
        options = [_option(name, schema, o, f"{path}.multi_select[{i}]") for i, o in enumerate(raw)]
        unique = {o["id"]: o for o in options}
        return kind, list(unique.values())
    raise validation(f"{name} is a {kind} property, which the emulator does not model.")


_OPTION_COLORS = ["default", "gray", "brown", "orange", "yellow", "green", "blue", "purple"]


def _option(name: str, schema: dict[str, Any], raw: Any, path: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or not ("name" in raw or "id" in raw):
        raise body_failed(f"{path}.name", "defined", "undefined")
    options: list[dict[str, Any]] = schema[schema["type"]].setdefault("options", [])
    if "id" in raw and "name" not in raw:
        for option in options:
            if option["id"] == raw["id"]:
                return dict(option)
        raise validation(f"Invalid select option id for property {name}: {raw['id']}")
    option_name = raw["name"]
    if not isinstance(option_name, str) or not option_name.strip():
        raise body_failed(f"{path}.name", "a non-empty string", option_name)
    if "," in option_name:
        raise validation(f"Invalid select option, commas not allowed: {option_name}")
    if len(option_name) > MAX_ARRAY:
        raise too_long(f"{path}.name", MAX_ARRAY, len(option_name))
    for option in options:
        if option["name"] == option_name:
            return dict(option)
    option = {
        "id": uuid.uuid4().hex[:4],
        "name": option_name,
        "color": _OPTION_COLORS[len(options) % len(_OPTION_COLORS)],
        "description": None,
    }
    options.append(option)
    return dict(option)


def count_blocks(blocks: list[Any]) -> int:
    total = 0
    for block in blocks:
        total += 1
        if isinstance(block, dict):
            kind = block.get("type") or next((k for k in block if k != "object"), "")
            inner = block.get(kind)
            if isinstance(inner, dict):
                total += count_blocks(inner.get("children") or [])
    return total


def block_list(
    blocks: Any, path: str, users: dict[str, str], depth: int = 0
) -> list[dict[str, Any]]:
    """Validate request blocks (``children``); return them normalised, children nested
    under ``"children"`` for the caller to store."""
    if not isinstance(blocks, list):
        raise body_failed(path, "an array", type(blocks).__name__)
    if len(blocks) > MAX_ARRAY:
        raise too_long(path, MAX_ARRAY, len(blocks))
    if depth == 0 and count_blocks(blocks) > MAX_BLOCKS_PER_REQUEST:
        raise validation(
            f"body failed validation: the request has {count_blocks(blocks)} blocks, "
            f"more than the {MAX_BLOCKS_PER_REQUEST} allowed in one request."
        )
    return [_block(block, f"{path}[{i}]", users, depth) for i, block in enumerate(blocks)]


def _block(block: Any, path: str, users: dict[str, str], depth: int) -> dict[str, Any]:
    if not isinstance(block, dict):
        raise body_failed(path, "an object", block)
    kind = block.get("type") or next((k for k in block if k not in ("object", "type")), None)
    if kind not in TEXT_BLOCKS | OTHER_BLOCKS:
        raise body_failed(f"{path}.type", "a supported block type", kind)
    data = block.get(kind)
    if not isinstance(data, dict):
        raise body_failed(f"{path}.{kind}", "defined", "undefined")
    stored: dict[str, Any] = {}
    children: list[dict[str, Any]] = []
    if kind in TEXT_BLOCKS:
        stored["rich_text"] = rich_text(
            data.get("rich_text", []), f"{path}.{kind}.rich_text", users
        )
        stored["color"] = data.get("color", "default")
        if kind.startswith("heading_"):
            stored["is_toggleable"] = bool(data.get("is_toggleable", False))
        if kind == "to_do":
            stored["checked"] = bool(data.get("checked", False))
        if "children" in data:
            if depth + 1 >= MAX_NESTING:
                raise body_failed(f"{path}.{kind}.children", "not present", "array")
            children = block_list(data["children"], f"{path}.{kind}.children", users, depth + 1)
    elif kind == "image":
        source = data.get("type") or ("external" if "external" in data else "file_upload")
        if source == "external":
            stored = {"type": "external", "external": {"url": data["external"]["url"]}}
        elif source == "file_upload":
            stored = {"type": "file_upload", "file_upload": {"id": data["file_upload"]["id"]}}
        else:
            raise body_failed(f"{path}.image.type", '"external" or "file_upload"', source)
        stored["caption"] = rich_text(data.get("caption", []), f"{path}.image.caption", users)
    return {"type": kind, "data": stored, "children": children}


# --- property schemas (create database, update data source) ------------------------------

#: Every property type the API takes in a schema (the SDK's ``PropertyConfigurationRequest``).
PROPERTY_TYPES = frozenset(
    {
        "title",
        "rich_text",
        "number",
        "select",
        "multi_select",
        "status",
        "date",
        "people",
        "files",
        "checkbox",
        "url",
        "email",
        "phone_number",
        "formula",
        "relation",
        "rollup",
        "unique_id",
        "created_by",
        "created_time",
        "last_edited_by",
        "last_edited_time",
        "button",
        "location",
        "verification",
        "last_visited_time",
        "place",
    }
)
#: ``SelectColor`` in the SDK's types.
SELECT_COLORS = frozenset(
    {"default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red"}
)
_SCHEMA_KEYS = {"type", "name", "description"}


def schema_type(raw: Any, path: str) -> str | None:
    """The property type a configuration names (``type``, or its one type key), ``None``
    when it names none (an update that only renames). Anything else is refused: Notion
    validates the body against the union of property configurations."""
    if not isinstance(raw, dict):
        raise body_failed(path, "an object", type(raw).__name__)
    declared = raw.get("type")
    keys = [key for key in raw if key not in _SCHEMA_KEYS]
    known = [key for key in keys if key in PROPERTY_TYPES]
    if (declared is not None and declared not in PROPERTY_TYPES) or (keys and not known):
        # Notion checks the body against the union of configurations and lists each
        # alternative it could have been.
        raise validation(
            "body failed validation. Fix one: "
            + " ".join(
                f"{path}.{kind} should be defined, instead was `undefined`."
                for kind in sorted(PROPERTY_TYPES)
            )
        )
    if len(known) > 1 or (declared is not None and known and known != [declared]):
        raise validation(
            f"body failed validation: {path} should name one property type, instead named "
            f"`{', '.join(sorted({*known, *([declared] if declared else [])}))}`."
        )
    if len(keys) > len(known):
        extra = next(key for key in keys if key not in PROPERTY_TYPES)
        raise body_failed(f"{path}.{extra}", "not present", "…")
    if declared is not None and not known:
        raise body_failed(f"{path}.{declared}", "defined", "undefined")
    return known[0] if known else None


def property_schema(raw: Any, path: str) -> tuple[str, dict[str, Any]]:
    """A property configuration as Notion takes it when a schema is created or changed
    (``{"type"?: T, T: {...}, "description"?}``); returns ``(type, configuration)`` in
    the stored (response) shape. Select options get ids and colours, as Notion gives them."""
    kind = schema_type(raw, path)
    if kind is None:
        raise validation(f"body failed validation: {path} should name a property type.")
    config = raw[kind]
    here = f"{path}.{kind}"
    if not isinstance(config, dict):
        raise body_failed(here, "an object", type(config).__name__)
    description = raw.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 280):
        raise body_failed(f"{path}.description", "a string of ≤ 280 characters", description)
    if kind == "number":
        number_format = config.get("format", "number")
        if not isinstance(number_format, str):
            raise body_failed(f"{here}.format", "a string", number_format)
        return kind, {"format": number_format}
    if kind in ("select", "multi_select"):
        return kind, {"options": _options(config.get("options", []), f"{here}.options")}
    if kind == "status":
        given = config.get("options")
        defaults = [{"name": name} for name in _STATUS_GROUPS]
        options = _options(defaults if given is None else given, f"{here}.options")
        return kind, {"options": options, "groups": _status_groups(options)}
    return kind, dict(config)


#: Notion's default status options and the group each starts in; options an integration
#: adds go to "To-do" (the SDK's ``StatusPropertyConfigUpdateRequest``).
_STATUS_GROUPS = {"Not started": "To-do", "In progress": "In progress", "Done": "Complete"}


def _status_groups(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups = []
    for group, color in (("To-do", "gray"), ("In progress", "blue"), ("Complete", "green")):
        members = [o["id"] for o in options if _STATUS_GROUPS.get(o["name"], "To-do") == group]
        groups.append(
            {"id": uuid.uuid4().hex[:4], "name": group, "color": color, "option_ids": members}
        )
    return groups


def _options(raw: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise body_failed(path, "an array", type(raw).__name__)
    if len(raw) > MAX_ARRAY:
        raise too_long(path, MAX_ARRAY, len(raw))
    options: list[dict[str, Any]] = []
    for index, option in enumerate(raw):
        here = f"{path}[{index}]"
        if not isinstance(option, dict) or not isinstance(option.get("name"), str):
            raise body_failed(f"{here}.name", "a string", "undefined")
        name = option["name"]
        if not name.strip():
            raise body_failed(f"{here}.name", "a non-empty string", name)
        if "," in name:
            raise validation(f"Invalid select option, commas not allowed: {name}")
        if len(name) > MAX_ARRAY:
            raise too_long(f"{here}.name", MAX_ARRAY, len(name))
        if any(existing["name"] == name for existing in options):
            raise validation(f"Duplicate select option name: {name}")
        color = option.get("color", _OPTION_COLORS[len(options) % len(_OPTION_COLORS)])
        if color not in SELECT_COLORS:
            raise body_failed(f"{here}.color", "a select color", color)
        options.append(
            {
                "id": uuid.uuid4().hex[:4],
                "name": name,
                "color": color,
                "description": option.get("description"),
            }
        )
    return options
