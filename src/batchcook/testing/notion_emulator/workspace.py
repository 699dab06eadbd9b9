"""The emulated Notion workspace: its state and the operations the endpoints perform.

Plain Python, no HTTP: ``app.py`` maps routes onto these methods, and tests reach the same
state directly (to seed it, change a schema, or look at what a page holds). Every method
that changes state runs under ``lock`` because the server runs in another thread.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from batchcook.recipes.notion_mapping import (
    DEFAULT_JOB_PROPERTY,
    OPTIONAL_PROPERTIES,
    required_schema,
)
from batchcook.testing.notion_emulator import validation as check
from batchcook.testing.notion_emulator.clock import Clock
from batchcook.testing.notion_emulator.errors import (
    NotionError,
    body_failed,
    not_found,
    too_long,
    validation,
)
from batchcook.testing.notion_emulator.filters import matches
from batchcook.testing.notion_emulator.models import (
    Block,
    Comment,
    Ctx,
    Database,
    DataSource,
    FileUpload,
    Integration,
    Json,
    Page,
    Recorded,
    new_id,
    property_name,
    title_property,
    workspace_parent,
)
from batchcook.testing.notion_emulator.uploads import (
    FILE_URL_LIFETIME,
    PLAN_UPLOAD_LIMITS,
    SINGLE_PART_LIMIT,
    UPLOAD_LIFETIME,
    check_content,
    check_type,
)

MAX_PAYLOAD_BYTES = 500 * 1000
_TITLE_ONLY: Json = {"id": "title", "name": "title", "type": "title", "title": {}}
#: What Notion gives a database created without a schema: one title property.
DEFAULT_TITLE_PROPERTY = "Name"


def _with(source: DataSource, properties: dict[str, Json]) -> DataSource:
    """``source`` with the properties of an update in progress (to resolve keys by id)."""
    return DataSource(source.id, source.database_id, source.name, properties)


def _merge_options(old: Json, new: Json) -> Json:
    """Options named in an update are added; the ones already there are kept."""
    kind = new["type"]
    if kind not in ("select", "multi_select"):
        return new
    kept = list(old[kind].get("options", []))
    names = {option["name"] for option in kept}
    kept += [option for option in new[kind]["options"] if option["name"] not in names]
    return {**new, kind: {**new[kind], "options": kept}}


class Workspace:
    """One Notion workspace with one integration and a seeded recipe database."""

    def __init__(
        self,
        clock: Clock,
        *,
        token: str,
        plan: str = "paid",
        job_property: str = DEFAULT_JOB_PROPERTY,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.plan = plan
        self.integration = Integration(token=token, bot_id=new_id(), name="Batchcook")
        self.users: dict[str, str] = {self.integration.bot_id: self.integration.name}
        self.person_id = new_id()
        self.users[self.person_id] = "Alex Cook"
        self.databases: dict[str, Database] = {}
        self.data_sources: dict[str, DataSource] = {}
        self.pages: dict[str, Page] = {}
        self.blocks: dict[str, Block] = {}
        self.comments: dict[str, Comment] = {}
        self.uploads: dict[str, FileUpload] = {}
        self.journal: list[Recorded] = []
        self.recipes_database_id, self.recipes_data_source_id = self.add_database(
            "Recipes", {**required_schema(job_property), **OPTIONAL_PROPERTIES}
        )

    # --- seeding (Python side) -------------------------------------------------------

    def add_database(
        self, title: str, schema: dict[str, str], *, shared: bool = True
    ) -> tuple[str, str]:
        """A database with one data source whose properties are ``name → type``."""
        with self.lock:
            database = Database(new_id(), title, [], shared, self.clock.now())
            source = DataSource(new_id(), database.id, title, {})
            for name, kind in schema.items():
                self.set_property(source, name, kind)
            database.data_source_ids.append(source.id)
            self.databases[database.id] = database
            self.data_sources[source.id] = source
            return database.id, source.id

    def add_page(self, title: str, *, shared: bool = True) -> str:
        """A page at the top of the workspace, in no database: what a user shares with the
        integration so it can create databases under it. ``shared=False`` is a page the
        integration cannot see (Notion answers 404 for it)."""
        with self.lock:
            now = self.clock.now()
            values = {"title": check.rich_text([{"text": {"content": title}}], "title", {})}
            page = Page(new_id(), "", values, None, None, now, now)
            page.parent, page.shared = workspace_parent(), shared
            self.pages[page.id] = page
            return page.id

    def set_property(self, source: DataSource, name: str, kind: str | None) -> None:
        """Add, retype (``kind``) or remove (``None``) a property, as a user would in the
        Notion UI."""
        with self.lock:
            if kind is None:
                source.properties.pop(name, None)
                return
            config: Json = {"options": []} if kind in ("select", "multi_select") else {}
            if kind == "number":
                config = {"format": "number"}
            prop_id = "title" if kind == "title" else uuid.uuid4().hex[:4]
            source.properties[name] = {"id": prop_id, "name": name, "type": kind, kind: config}

    @property
    def recipes(self) -> DataSource:
        return self.data_sources[self.recipes_data_source_id]

    def schema_of(self, page: Page) -> DataSource:
        """The properties a page has: its data source's, or only ``title`` for a page in no
        database."""
        if page.data_source_id:
            return self.data_sources[page.data_source_id]
        return DataSource("", "", "", {"title": dict(_TITLE_ONLY)})

    # --- helpers ---------------------------------------------------------------------

    def _database(self, database_id: str) -> Database:
        database = self.databases.get(database_id)
        if database is None or not database.shared:
            raise not_found("database", database_id)
        return database

    def _source(self, source_id: str) -> DataSource:
        source = self.data_sources.get(source_id)
        if source is None or not self.databases[source.database_id].shared:
            raise not_found("data_source", source_id)
        return source

    def _page(self, page_id: str) -> Page:
        page = self.pages.get(page_id)
        if page is None or not page.shared:
            raise not_found("page", page_id)
        if page.data_source_id:
            self._source(page.data_source_id)
        return page

    def _container(self, block_id: str) -> Page | Block:
        if block_id in self.pages:
            return self._page(block_id)
        block = self.blocks.get(block_id)
        if block is None:
            raise not_found("block", block_id)
        return block

    @staticmethod
    def _require(ctx: Ctx, capability: str) -> None:
        if capability not in ctx.integration.capabilities:
            raise NotionError(
                403, "restricted_resource", "Insufficient permissions for this endpoint."
            )

    def _user(self, user_id: str) -> Json:
        return {"object": "user", "id": user_id}

    def _upload(self, upload_id: str) -> FileUpload:
        upload = self.uploads.get(upload_id)
        if upload is None:
            raise not_found("file_upload", upload_id)
        if upload.status == "pending" and upload.expiry and self.clock.now() > upload.expiry:
            upload.status = "expired"
        return upload

    @staticmethod
    def _paginate(items: list[Any], key: Any, start_cursor: Any, page_size: Any) -> Json:
        size = 100 if page_size in (None, "") else page_size
        try:
            size = int(size)
        except (TypeError, ValueError):
            raise body_failed("page_size", "a number", page_size) from None
        if not 1 <= size <= 100:
            raise body_failed("page_size", "≤ `100` and ≥ `1`", size)
        start = 0
        if start_cursor:
            ids = [key(item) for item in items]
            if start_cursor not in ids:
                raise validation(f"Invalid start_cursor: {start_cursor}")
            start = ids.index(start_cursor)
        chunk = items[start : start + size]
        more = start + size < len(items)
        return {
            "object": "list",
            "results": chunk,
            "next_cursor": key(items[start + size]) if more else None,
            "has_more": more,
        }

    # --- rendering objects -----------------------------------------------------------

    def file_url(self, ctx: Ctx, upload: FileUpload) -> Json:
        expires = self.clock.now() + FILE_URL_LIFETIME
        return {
            "url": f"{ctx.base_url}/_files/{upload.id}/{upload.filename}?expires={int(expires)}",
            "expiry_time": self.clock.iso(expires),
        }

    def _file(self, ctx: Ctx, stored: Json | None) -> Json | None:
        if stored is None:
            return None
        if stored["type"] == "file_upload":
            return {"type": "file", "file": self.file_url(ctx, self.uploads[stored["id"]])}
        return stored

    def page_json(self, ctx: Ctx, page: Page) -> Json:
        source = self.schema_of(page)
        properties = {}
        for name, schema in source.properties.items():
            kind = schema["type"]
            empty: Any = [] if kind in ("title", "rich_text", "multi_select") else None
            if kind == "checkbox":
                empty = False
            value = page.values.get(name, empty)
            properties[name] = {"id": schema["id"], "type": kind, kind: value}
        title = "".join(item["plain_text"] for item in page.values.get(title_property(source), []))
        slug = "-".join(title.split()) + "-" if title else ""
        return {
            "object": "page",
            "id": page.id,
            "created_time": self.clock.iso(page.created),
            "last_edited_time": self.clock.iso(page.edited),
            "created_by": self._user(self.integration.bot_id),
            "last_edited_by": self._user(self.integration.bot_id),
            "cover": self._file(ctx, page.cover),
            "icon": self._file(ctx, page.icon),
            "parent": page.parent
            or {
                "type": "data_source_id",
                "data_source_id": source.id,
                "database_id": source.database_id,
            },
            "archived": page.in_trash,
            "in_trash": page.in_trash,
            "is_archived": False,
            "is_locked": False,
            "properties": properties,
            "url": f"https://www.notion.so/{slug}{page.id.replace('-', '')}",
            "public_url": None,
        }

    def block_json(self, ctx: Ctx, block: Block) -> Json:
        data = dict(block.data)
        if block.type == "image" and data.get("type") == "file_upload":
            upload = self.uploads[data["file_upload"]["id"]]
            data = {"type": "file", "file": self.file_url(ctx, upload), "caption": data["caption"]}
        return {
            "object": "block",
            "id": block.id,
            "parent": block.parent,
            "created_time": self.clock.iso(block.created),
            "last_edited_time": self.clock.iso(block.edited),
            "created_by": self._user(self.integration.bot_id),
            "last_edited_by": self._user(self.integration.bot_id),
            "has_children": any(not self.blocks[c].in_trash for c in block.children),
            "archived": block.in_trash,
            "in_trash": block.in_trash,
            "type": block.type,
            block.type: data,
        }

    def upload_json(self, ctx: Ctx, upload: FileUpload) -> Json:
        return {
            "object": "file_upload",
            "id": upload.id,
            "created_time": self.clock.iso(upload.created),
            "created_by": {"id": self.integration.bot_id, "type": "bot"},
            "last_edited_time": self.clock.iso(upload.created),
            "archived": False,
            "in_trash": False,
            "expiry_time": self.clock.iso(upload.expiry) if upload.expiry else None,
            "status": upload.status,
            "filename": upload.filename,
            "content_type": upload.content_type,
            "content_length": len(upload.content) if upload.content is not None else None,
            "upload_url": (
                f"{ctx.base_url}/v1/file_uploads/{upload.id}/send"
                if upload.status == "pending"
                else None
            ),
            "file_import_result": None,
        }

    def comment_json(self, comment: Comment) -> Json:
        return {
            "object": "comment",
            "id": comment.id,
            "parent": {"type": "page_id", "page_id": comment.page_id},
            "discussion_id": comment.discussion_id,
            "created_time": self.clock.iso(comment.created),
            "last_edited_time": self.clock.iso(comment.created),
            "created_by": self._user(comment.author),
            "rich_text": comment.rich_text,
            "display_name": {"type": "integration", "resolved_name": self.integration.name},
        }

    # --- users -----------------------------------------------------------------------

    def me(self, ctx: Ctx) -> Json:
        return {
            "object": "user",
            "id": ctx.integration.bot_id,
            "name": ctx.integration.name,
            "avatar_url": None,
            "type": "bot",
            "bot": {
                "owner": {"type": "workspace", "workspace": True},
                "workspace_name": "Test kitchen",
                "workspace_id": "emulated-workspace",
                "workspace_limits": {
                    "max_file_upload_size_in_bytes": PLAN_UPLOAD_LIMITS[self.plan]
                },
            },
        }

    def retrieve_user(self, ctx: Ctx, user_id: str) -> Json:
        if user_id == ctx.integration.bot_id:
            return self.me(ctx)
        if user_id not in self.users:
            raise not_found("user", user_id)
        return {
            "object": "user",
            "id": user_id,
            "name": self.users[user_id],
            "avatar_url": None,
            "type": "person",
            "person": {"email": "cook@example.com"},
        }

    # --- databases and data sources --------------------------------------------------

    def retrieve_database(self, ctx: Ctx, database_id: str) -> Json:
        self._require(ctx, "read")
        database = self._database(database_id)
        return {
            "object": "database",
            "id": database.id,
            "title": check.rich_text([{"text": {"content": database.title}}], "title", {}),
            "description": [],
            "parent": database.parent,
            "is_inline": False,
            "archived": False,
            "in_trash": False,
            "is_locked": False,
            "created_time": self.clock.iso(database.created),
            "last_edited_time": self.clock.iso(database.created),
            "data_sources": [
                {"id": ds, "name": self.data_sources[ds].name} for ds in database.data_source_ids
            ],
            "icon": None,
            "cover": None,
            "url": f"https://www.notion.so/{database.id.replace('-', '')}",
            "public_url": None,
        }

    def retrieve_data_source(self, ctx: Ctx, source_id: str) -> Json:
        self._require(ctx, "read")
        source = self._source(source_id)
        database = self.databases[source.database_id]
        return {
            "object": "data_source",
            "id": source.id,
            "title": check.rich_text([{"text": {"content": source.name}}], "title", {}),
            "description": [],
            "parent": {"type": "database_id", "database_id": database.id},
            "database_parent": database.parent,
            "is_inline": False,
            "archived": False,
            "in_trash": False,
            "created_time": self.clock.iso(database.created),
            "last_edited_time": self.clock.iso(database.created),
            "created_by": self._user(self.integration.bot_id),
            "last_edited_by": self._user(self.integration.bot_id),
            "properties": {name: dict(schema) for name, schema in source.properties.items()},
            "icon": None,
            "cover": None,
            "url": f"https://www.notion.so/{source.id.replace('-', '')}",
            "public_url": None,
        }

    def query_data_source(self, ctx: Ctx, source_id: str, body: Json) -> Json:
        self._require(ctx, "read")
        source = self._source(source_id)
        want_trash = bool(body.get("in_trash", False))
        pages = [
            page
            for page in self.pages.values()
            if page.data_source_id == source.id and page.in_trash == want_trash
        ]
        if body.get("filter"):
            pages = [page for page in pages if matches(source, page, body["filter"])]
        pages.sort(key=lambda page: page.created, reverse=True)
        listing = self._paginate(
            pages, lambda page: page.id, body.get("start_cursor"), body.get("page_size")
        )
        listing["results"] = [self.page_json(ctx, page) for page in listing["results"]]
        listing.update({"type": "page_or_data_source", "page_or_data_source": {}})
        return listing

    def create_database(self, ctx: Ctx, body: Json) -> Json:
        """``POST /v1/databases`` (2025-09-03): a database under a page, its schema in
        ``initial_data_source.properties``. Everything is validated before anything is made,
        so a refused request leaves no half-made database."""
        self._require(ctx, "insert")
        parent = body.get("parent")
        if not isinstance(parent, dict):
            raise body_failed("body.parent", "an object", "undefined")
        kind = parent.get("type") or next(
            (k for k in ("page_id", "workspace") if k in parent), None
        )
        if kind == "workspace":
            raise validation(
                "The emulator models databases under a page only (parent.type `page_id`)."
            )
        if kind != "page_id" or "page_id" not in parent:
            raise validation(
                "body failed validation. Fix one: body.parent.page_id should be defined, "
                "instead was `undefined`. body.parent.workspace should be defined, instead was "
                "`undefined`."
            )
        page = self._page(check.parse_id(parent["page_id"], "body.parent.page_id"))
        if page.in_trash:
            raise validation(
                "Can't edit block that is archived. You must unarchive the block before editing."
            )
        title = check.rich_text(body.get("title", []), "body.title", self.users)
        check.rich_text(body.get("description", []), "body.description", self.users)
        if not isinstance(body.get("is_inline", False), bool):
            raise body_failed("body.is_inline", "a boolean", body["is_inline"])
        if body.get("icon") is not None or body.get("cover") is not None:
            raise validation("The emulator does not model database icons and covers.")
        initial = body.get("initial_data_source", {})
        if not isinstance(initial, dict):
            raise body_failed("body.initial_data_source", "an object", type(initial).__name__)
        raw = initial.get("properties")
        path = "body.initial_data_source.properties"
        if raw is None:
            raw = {DEFAULT_TITLE_PROPERTY: {"title": {}}}
        if not isinstance(raw, dict):
            raise body_failed(path, "an object", type(raw).__name__)
        schema: dict[str, Json] = {}
        for name, config in raw.items():
            if not name.strip():
                raise validation(f"body failed validation: {path} has a property with no name.")
            schema[name] = self._schema_entry(name, config, f"{path}.{name}")
        titles = [name for name, entry in schema.items() if entry["type"] == "title"]
        if not titles:
            raise validation("Title is not provided: a database needs one title property.")
        if len(titles) > 1:
            raise validation(
                f"Multiple title properties provided: {', '.join(titles)}. A database has "
                "exactly one title property."
            )
        name = "".join(item["plain_text"] for item in title)
        parent_ref = {"type": "page_id", "page_id": page.id}
        database = Database(new_id(), name, [], True, self.clock.now(), parent=parent_ref)
        source = DataSource(new_id(), database.id, name, schema)
        database.data_source_ids.append(source.id)
        self.databases[database.id] = database
        self.data_sources[source.id] = source
        return self.retrieve_database(ctx, database.id)

    @staticmethod
    def _schema_entry(name: str, raw: Any, path: str, prop_id: str | None = None) -> Json:
        kind, config = check.property_schema(raw, path)
        new_id_ = prop_id or ("title" if kind == "title" else uuid.uuid4().hex[:4])
        entry: Json = {"id": new_id_, "name": name, "type": kind, kind: config}
        if raw.get("description") is not None:
            entry["description"] = raw["description"]
        return entry

    def update_data_source(self, ctx: Ctx, source_id: str, body: Json) -> Json:
        """``PATCH /v1/data_sources/{id}``: add (a new key), retype, rename (``name``) or
        remove (``null``) properties; keys are names or property ids. Pages keep their
        values under a renamed property and lose them under a removed or retyped one."""
        self._require(ctx, "update")
        source = self._source(source_id)
        for key in ("icon", "parent", "in_trash", "archived"):
            if key in body:
                raise validation(f"The emulator does not model changing a data source's {key}.")
        name = source.name
        if "title" in body:
            title = check.rich_text(body["title"], "body.title", self.users)
            name = "".join(item["plain_text"] for item in title)
        raw = body.get("properties", {})
        if not isinstance(raw, dict):
            raise body_failed("body.properties", "an object", type(raw).__name__)
        properties = {n: dict(entry) for n, entry in source.properties.items()}
        renamed: dict[str, str | None] = {}  # old name -> new name, None when values go
        for key, change in raw.items():
            path = f"body.properties.{key}"
            current = property_name(_with(source, properties), key)
            if change is None:
                if current is None:
                    raise validation(f"{key} is not a property that exists.")
                if properties[current]["type"] == "title":
                    raise validation("Cannot delete the title property of a data source.")
                del properties[current]
                renamed[current] = None
                continue
            kind = check.schema_type(change, path)
            target = change.get("name", current or key)
            if not isinstance(target, str) or not target.strip():
                raise body_failed(f"{path}.name", "a non-empty string", target)
            if current is None:
                if kind is None:
                    raise validation(f"{key} is not a property that exists.")
                entry = self._schema_entry(target, change, path)
            elif kind is None or kind == properties[current]["type"]:
                entry = {**properties[current], "name": target}
                if kind is not None:
                    entry = self._schema_entry(target, change, path, properties[current]["id"])
                    entry = _merge_options(properties[current], entry)
            else:
                if "title" in (kind, properties[current]["type"]):
                    raise validation(
                        f"Cannot change the type of {current} to {kind}: a data source has "
                        "exactly one title property, and its type cannot change."
                    )
                entry = self._schema_entry(target, change, path, properties[current]["id"])
                renamed[current] = None
            if target != current and target in properties:
                raise validation(f"A property named {target} already exists.")
            if current is not None:
                properties = {
                    (target if n == current else n): (entry if n == current else e)
                    for n, e in properties.items()
                }
                renamed.setdefault(current, target)
            else:
                properties[target] = entry
        if sum(entry["type"] == "title" for entry in properties.values()) != 1:
            raise validation("Multiple title properties provided. A data source has exactly one.")
        source.name, source.properties = name, properties
        for page in self.pages.values():
            if page.data_source_id == source.id:
                for old, new in renamed.items():
                    value = page.values.pop(old, None)
                    if new is not None and value is not None:
                        page.values[new] = value
        return self.retrieve_data_source(ctx, source.id)

    # --- pages -----------------------------------------------------------------------

    def _properties(self, source: DataSource, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise body_failed("body.properties", "an object", type(raw).__name__)
        values = {}
        for key, value in raw.items():
            name = property_name(source, key)
            if name is None:
                raise validation(f"{key} is not a property that exists.")
            _kind, stored = check.property_value(name, source.properties[name], value, self.users)
            values[name] = stored
        return values

    def _cover(self, raw: Any, path: str) -> Json | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise body_failed(path, "an object", raw)
        kind = raw.get("type") or ("external" if "external" in raw else "file_upload")
        if kind == "external":
            url = (raw.get("external") or {}).get("url")
            if not isinstance(url, str) or len(url) > check.MAX_TEXT:
                raise body_failed(f"{path}.external.url", "a string of ≤ 2000 characters", url)
            return {"type": "external", "external": {"url": url}}
        if kind == "file_upload":
            upload_id = check.parse_id((raw.get("file_upload") or {}).get("id"), path)
            upload = self._upload(upload_id)
            if upload.status != "uploaded":
                raise validation(
                    f"File upload {upload_id} is in status `{upload.status}`; only an uploaded "
                    "file upload can be attached."
                )
            upload.expiry = None
            return {"type": "file_upload", "id": upload_id}
        raise body_failed(f"{path}.type", '"external" or "file_upload"', kind)

    def _icon(self, raw: Any) -> Json | None:
        if raw is None:
            return None
        if isinstance(raw, dict) and raw.get("type", "emoji") == "emoji" and "emoji" in raw:
            return {"type": "emoji", "emoji": raw["emoji"]}
        return self._cover(raw, "body.icon")

    def _add_blocks(self, parent: Page | Block, blocks: list[Json]) -> list[Block]:
        made = []
        now = self.clock.now()
        parent_ref = (
            {"type": "page_id", "page_id": parent.id}
            if isinstance(parent, Page)
            else {"type": "block_id", "block_id": parent.id}
        )
        for spec in blocks:
            if spec["type"] == "image" and spec["data"].get("type") == "file_upload":
                self._cover(spec["data"], "body.children.image")
            block = Block(new_id(), parent_ref, spec["type"], spec["data"], now, now)
            self.blocks[block.id] = block
            parent.children.append(block.id)
            self._add_blocks(block, spec["children"])
            made.append(block)
        return made

    def create_page(self, ctx: Ctx, body: Json) -> Json:
        self._require(ctx, "insert")
        parent = body.get("parent")
        if not isinstance(parent, dict):
            raise body_failed("body.parent", "defined", "undefined")
        if "data_source_id" in parent:
            source = self._source(check.parse_id(parent["data_source_id"], "body.parent"))
        elif "database_id" in parent:
            database = self._database(check.parse_id(parent["database_id"], "body.parent"))
            if len(database.data_source_ids) != 1:
                raise validation(
                    "Databases with multiple data sources are not supported in this API "
                    "version. Use a data_source_id parent."
                )
            source = self.data_sources[database.data_source_ids[0]]
        else:
            raise validation("The emulator models pages under a data source only.")
        if "markdown" in body:
            raise validation("The emulator does not model markdown page content.")
        values = self._properties(source, body.get("properties", {}))
        children = check.block_list(body.get("children", []), "body.children", self.users)
        cover = self._cover(body.get("cover"), "body.cover")
        icon = self._icon(body.get("icon"))
        now = self.clock.now()
        page = Page(new_id(), source.id, values, cover, icon, now, now)
        self.pages[page.id] = page
        self._add_blocks(page, children)
        return self.page_json(ctx, page)

    def retrieve_page(self, ctx: Ctx, page_id: str) -> Json:
        self._require(ctx, "read")
        return self.page_json(ctx, self._page(page_id))

    def update_page(self, ctx: Ctx, page_id: str, body: Json) -> Json:
        self._require(ctx, "update")
        page = self._page(page_id)
        trash = body.get("in_trash", body.get("archived"))
        if page.in_trash and trash is not False:
            raise validation(
                "Can't edit block that is archived. You must unarchive the block before editing."
            )
        source = self.schema_of(page)
        values = self._properties(source, body.get("properties", {}))
        cover = self._cover(body["cover"], "body.cover") if "cover" in body else page.cover
        icon = self._icon(body["icon"]) if "icon" in body else page.icon
        page.values.update(values)
        page.cover, page.icon = cover, icon
        if body.get("erase_content"):
            for child in page.children:
                self.blocks[child].in_trash = True
            page.children = []
        if trash is not None:
            page.in_trash = bool(trash)
        page.edited = self.clock.now()
        return self.page_json(ctx, page)

    # --- blocks ----------------------------------------------------------------------

    def list_children(self, ctx: Ctx, block_id: str, query: dict[str, str]) -> Json:
        self._require(ctx, "read")
        container = self._container(block_id)
        live = [self.blocks[c] for c in container.children if not self.blocks[c].in_trash]
        listing = self._paginate(
            live, lambda block: block.id, query.get("start_cursor"), query.get("page_size")
        )
        listing["results"] = [self.block_json(ctx, block) for block in listing["results"]]
        listing.update({"type": "block", "block": {}})
        return listing

    def append_children(self, ctx: Ctx, block_id: str, body: Json) -> Json:
        self._require(ctx, "insert")
        container = self._container(block_id)
        if container.in_trash:
            raise validation(
                "Can't edit block that is archived. You must unarchive the block before editing."
            )
        if "children" not in body:
            raise body_failed("body.children", "defined", "undefined")
        specs = check.block_list(body["children"], "body.children", self.users)
        before = list(container.children)
        made = self._add_blocks(container, specs)
        after = body.get("after") or ((body.get("position") or {}).get("after_block") or {}).get(
            "id"
        )
        if after:
            after = check.parse_id(after, "body.after")
            if after not in before:
                raise not_found("block", after)
            at = before.index(after) + 1
            new_ids = [block.id for block in made]
            container.children = before[:at] + new_ids + before[at:]
        if isinstance(container, Page):
            container.edited = self.clock.now()
        return {
            "object": "list",
            "results": [self.block_json(ctx, block) for block in made],
            "next_cursor": None,
            "has_more": False,
            "type": "block",
            "block": {},
        }

    def retrieve_block(self, ctx: Ctx, block_id: str) -> Json:
        self._require(ctx, "read")
        block = self.blocks.get(block_id)
        if block is None:
            raise not_found("block", block_id)
        return self.block_json(ctx, block)

    def delete_block(self, ctx: Ctx, block_id: str) -> Json:
        self._require(ctx, "update")
        if block_id in self.pages:
            page = self._page(block_id)
            page.in_trash = True
            return self.page_json(ctx, page)
        block = self.blocks.get(block_id)
        if block is None or block.in_trash:
            raise not_found("block", block_id)
        block.in_trash = True
        return self.block_json(ctx, block)

    # --- comments --------------------------------------------------------------------

    def create_comment(self, ctx: Ctx, body: Json) -> Json:
        self._require(ctx, "comment_insert")
        rich = check.rich_text(body.get("rich_text"), "body.rich_text", self.users)
        if "discussion_id" in body:
            existing = [
                c for c in self.comments.values() if c.discussion_id == body["discussion_id"]
            ]
            if not existing:
                raise not_found("discussion", str(body["discussion_id"]))
            page_id, discussion = existing[0].page_id, existing[0].discussion_id
        else:
            parent = body.get("parent") or {}
            if "page_id" not in parent:
                raise body_failed("body.parent.page_id", "defined", "undefined")
            page_id = self._page(check.parse_id(parent["page_id"], "body.parent.page_id")).id
            discussion = new_id()
        comment = Comment(
            new_id(), page_id, discussion, rich, self.clock.now(), ctx.integration.bot_id
        )
        self.comments[comment.id] = comment
        return self.comment_json(comment)

    def list_comments(self, ctx: Ctx, query: dict[str, str]) -> Json:
        self._require(ctx, "comment_read")
        if "block_id" not in query:
            raise body_failed("query.block_id", "defined", "undefined")
        page_id = self._container(check.parse_id(query["block_id"], "query.block_id")).id
        found = [c for c in self.comments.values() if c.page_id == page_id]
        listing = self._paginate(
            found, lambda c: c.id, query.get("start_cursor"), query.get("page_size")
        )
        listing["results"] = [self.comment_json(c) for c in listing["results"]]
        listing.update({"type": "comment", "comment": {}})
        return listing

    def retrieve_comment(self, ctx: Ctx, comment_id: str) -> Json:
        self._require(ctx, "comment_read")
        comment = self.comments.get(comment_id)
        if comment is None:
            raise not_found("comment", comment_id)
        return self.comment_json(comment)

    # --- file uploads ----------------------------------------------------------------

    def create_upload(self, ctx: Ctx, body: Json) -> Json:
        self._require(ctx, "insert")
        mode = body.get("mode", "single_part")
        if mode != "single_part":
            raise validation(f"The emulator models single_part file uploads only, not {mode}.")
        filename = body.get("filename")
        content_type = body.get("content_type")
        if filename is not None:
            if not isinstance(filename, str) or not filename:
                raise body_failed("body.filename", "a non-empty string", filename)
            if len(filename.encode()) > 900:
                raise too_long("body.filename", 900, len(filename.encode()))
        if content_type is not None:
            check_type(content_type, filename)
        now = self.clock.now()
        upload = FileUpload(new_id(), filename, content_type, now, now + UPLOAD_LIFETIME)
        self.uploads[upload.id] = upload
        return self.upload_json(ctx, upload)

    def send_upload(
        self, ctx: Ctx, upload_id: str, filename: str | None, content_type: str | None, data: bytes
    ) -> Json:
        self._require(ctx, "insert")
        upload = self._upload(upload_id)
        if upload.status != "pending":
            raise validation(
                f"File upload {upload_id} is in status `{upload.status}`, not `pending`; "
                "create a new file upload."
            )
        declared = upload.content_type
        part_type = None if content_type in (None, "application/octet-stream") else content_type
        if declared and part_type and part_type != declared:
            raise validation(
                f"The file's content type `{part_type}` does not match the file upload's "
                f"content_type `{declared}`."
            )
        final_type = declared or part_type
        if final_type is None:
            raise validation("Could not determine the file's content type; set content_type.")
        name = upload.filename or filename
        check_type(final_type, name)
        limit = PLAN_UPLOAD_LIMITS[self.plan]
        if len(data) > min(limit, SINGLE_PART_LIMIT):
            raise validation(
                f"The file is {len(data)} bytes, over the limit of {min(limit, SINGLE_PART_LIMIT)} "
                "bytes for a single-part upload in this workspace."
            )
        check_content(final_type, data)
        upload.status, upload.content = "uploaded", data
        upload.filename, upload.content_type = name, final_type
        return self.upload_json(ctx, upload)

    def retrieve_upload(self, ctx: Ctx, upload_id: str) -> Json:
        self._require(ctx, "read")
        return self.upload_json(ctx, self._upload(upload_id))
