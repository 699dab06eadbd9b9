"""The emulated workspace's records: plain dataclasses, no behaviour."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

CAPABILITIES = frozenset({"read", "update", "insert", "comment_read", "comment_insert"})


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Integration:
    token: str
    bot_id: str
    name: str
    capabilities: frozenset[str] = CAPABILITIES


@dataclass
class DataSource:
    id: str
    database_id: str
    name: str
    properties: dict[str, Json]


def workspace_parent() -> Json:
    return {"type": "workspace", "workspace": True}


@dataclass
class Database:
    id: str
    title: str
    data_source_ids: list[str]
    shared: bool
    created: float
    parent: Json = field(default_factory=workspace_parent)


@dataclass
class Page:
    id: str
    data_source_id: str
    values: dict[str, Any]
    cover: Json | None
    icon: Json | None
    created: float
    edited: float
    children: list[str] = field(default_factory=list)
    in_trash: bool = False
    #: Set for a page outside any database (``data_source_id`` is then empty): its parent,
    #: and whether it was shared with the integration (pages in a database follow the
    #: database's sharing).
    parent: Json | None = None
    shared: bool = True


@dataclass
class Block:
    id: str
    parent: Json
    type: str
    data: Json
    created: float
    edited: float
    children: list[str] = field(default_factory=list)
    in_trash: bool = False


@dataclass
class Comment:
    id: str
    page_id: str
    discussion_id: str
    rich_text: list[Json]
    created: float
    author: str


@dataclass
class FileUpload:
    id: str
    filename: str | None
    content_type: str | None
    created: float
    expiry: float | None
    status: str = "pending"
    content: bytes | None = None


@dataclass
class Ctx:
    """Who is calling and from where (file URLs point back at the emulator)."""

    integration: Integration
    base_url: str


@dataclass
class Recorded:
    """One request as the emulator saw it, for tests that count or inspect calls."""

    method: str
    path: str
    body: Any
    status: int = 0


def title_property(source: DataSource) -> str:
    return next((n for n, s in source.properties.items() if s["type"] == "title"), "")


def property_name(source: DataSource, key: str) -> str | None:
    if key in source.properties:
        return key
    return next((n for n, s in source.properties.items() if s["id"] == key), None)
