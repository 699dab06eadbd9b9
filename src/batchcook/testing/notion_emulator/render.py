"""A page as plain text or HTML, for tests to assert on and humans to read."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchcook.testing.notion_emulator.workspace import Workspace


def _text(items: list[dict[str, Any]], *, markdown: bool = False) -> str:
    out = []
    for item in items:
        text = item["plain_text"]
        if markdown and item["annotations"]["bold"] and text.strip():
            text = f"**{text}**"
        out.append(text)
    return "".join(out)


def _value(kind: str, value: Any) -> str:
    if kind in ("title", "rich_text"):
        return _text(value or [], markdown=True)
    if kind == "select":
        return value["name"] if value else ""
    if kind == "multi_select":
        return ", ".join(option["name"] for option in value or [])
    return "" if value is None else str(value)


def _body(ws: Workspace, children: list[str], indent: str = "") -> list[str]:
    lines = []
    number = 0
    for block_id in children:
        block = ws.blocks[block_id]
        if block.in_trash:
            continue
        text = _text(block.data.get("rich_text", []))
        number = number + 1 if block.type == "numbered_list_item" else 0
        if block.type.startswith("heading_"):
            lines.append(f"{indent}{'#' * int(block.type[-1])} {text}")
        elif block.type == "numbered_list_item":
            lines.append(f"{indent}{number}. {text}")
        elif block.type == "bulleted_list_item":
            lines.append(f"{indent}- {text}")
        elif block.type == "quote":
            lines.append(f"{indent}> {text}")
        elif block.type == "divider":
            lines.append(f"{indent}---")
        elif block.type == "image":
            lines.append(f"{indent}[image]")
        else:
            lines.append(f"{indent}{text}")
        lines.extend(_body(ws, block.children, indent + "   "))
    return lines


def render_text(ws: Workspace, page_id: str) -> str:
    """Title, properties (``Name: value``, bold as ``**…**``), cover, body, comments."""
    page = ws.pages[page_id]
    source = ws.schema_of(page)
    title = next(
        (
            _value("title", page.values.get(n))
            for n, s in source.properties.items()
            if s["type"] == "title"
        ),
        "",
    )
    lines = [f"# {title}" + ("  (in trash)" if page.in_trash else "")]
    for name, schema in source.properties.items():
        if schema["type"] != "title":
            lines.append(f"{name}: {_value(schema['type'], page.values.get(name))}")
    if page.cover is not None:
        if page.cover["type"] == "file_upload":
            upload = ws.uploads[page.cover["id"]]
            size = len(upload.content or b"")
            lines.append(f"Cover: {upload.filename} ({upload.content_type}, {size} bytes)")
        else:
            lines.append(f"Cover: {page.cover['external']['url']}")
    lines.append("")
    lines.extend(_body(ws, page.children))
    comments = [c for c in ws.comments.values() if c.page_id == page_id]
    if comments:
        lines.append("")
        lines.extend(f"Comment: {_text(c.rich_text)}" for c in comments)
    return "\n".join(lines) + "\n"


def render_html(ws: Workspace, page_id: str, base_url: str) -> str:
    page = ws.pages[page_id]
    cover = ""
    if page.cover is not None and page.cover["type"] == "file_upload":
        upload = ws.uploads[page.cover["id"]]
        url = (
            f"{base_url}/_files/{upload.id}/{upload.filename}?expires={int(ws.clock.now() + 3600)}"
        )
        cover = f'<img src="{html.escape(url)}" style="max-width:100%">'
    text = html.escape(render_text(ws, page_id))
    return f"<!doctype html><meta charset=utf-8><title>Notion page</title>{cover}<pre>{text}</pre>"
