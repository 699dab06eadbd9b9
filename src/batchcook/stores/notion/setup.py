"""Making or completing the recipe database (``batchcook notion init``).

A person's first hour should not go on typing nineteen property names into Notion, exactly,
with the right types. ``create_database`` makes the database under a page the user shared
with the integration, with every property the store writes plus the optional ones;
``fix_database`` adds what an existing database lacks. Neither renames nor deletes what the
user made, and a property with the wrong type is reported, not changed: changing a type in
Notion converts, and may lose, what the user's pages hold.

Requests: create = 1 (``POST /v1/databases``); fix = 2 reads + 1 ``PATCH`` when something
is missing. Both go through the store's connection (pacing, retries, error messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, NoReturn

from notion_client.helpers import extract_notion_id

from batchcook.config import Settings
from batchcook.recipes import notion_mapping as mapping
from batchcook.stores.base import StoreError
from batchcook.stores.notion import schema
from batchcook.stores.notion.errors import AmbiguousWriteError, NotionAPIError
from batchcook.stores.notion.store import NotionStore

Json = dict[str, Any]


class SetupError(StoreError):
    """Something only the user can fix (token, id, sharing, a property's type). Each item
    of ``lines`` is one complete message saying what to do."""

    def __init__(self, *lines: str) -> None:
        super().__init__(" ".join(lines))
        self.lines = list(lines)


@dataclass
class RecipeDatabase:
    database_id: str
    data_source_id: str
    url: str

    def public(self) -> dict[str, str]:
        return {
            "database_id": self.database_id,
            "data_source_id": self.data_source_id,
            "url": self.url,
        }


@dataclass
class FixReport:
    database: RecipeDatabase
    added: dict[str, str] = field(default_factory=dict)  # name -> type
    #: Required properties batchcook cannot write as they are: one line each, to fix in Notion.
    problems: list[str] = field(default_factory=list)
    #: Optional properties of another type: the store leaves them empty; nothing to fix.
    notes: list[str] = field(default_factory=list)


def notion_id(text: str, kind: str) -> str:
    """An id from what a user pastes: the id with or without dashes, or the page's link."""
    found = extract_notion_id(text)
    if found is None:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise SetupError(
            f"{shown!r} is not a Notion {kind} id: in Notion, open the {kind}, use ••• → Copy "
            "link, and pass the link (or the 32 characters at its end)."
        )
    return found


def open_store(settings: Settings, database_id: str = "") -> NotionStore:
    """The store's connection, for the setup calls (``database_id`` empty before create)."""
    token = settings.notion_token
    if token is None or not token.get_secret_value():
        raise SetupError(
            "NOTION_TOKEN is not set: create an internal integration at "
            "https://www.notion.so/profile/integrations, put its secret in NOTION_TOKEN (in .env "
            "or the environment), share the page with it (••• → Connections), and run this again."
        )
    return NotionStore.from_settings(settings, database_id=database_id)


def _explained(error: NotionAPIError, kind: str, object_id: str) -> NoReturn:
    """Notion's refusals as what the user does next; failures that are Notion's own (5xx,
    timeouts) are raised as they are."""
    explained = _explain(error, kind, object_id)
    if explained is None:
        raise error
    raise explained from error


def _explain(error: NotionAPIError, kind: str, object_id: str) -> SetupError | None:
    if error.code == "object_not_found":
        return SetupError(
            f"Notion has no {kind} {object_id} that the integration can reach: open the {kind} "
            "in Notion, ••• → Connections → add the integration (a page shared with it shares "
            f"everything under it), then run this again. [Notion {error.status} {error.code}]"
        )
    if error.code == "unauthorized":
        return SetupError(
            "Notion refused NOTION_TOKEN: set it to the integration's Internal Integration "
            "Secret (https://www.notion.so/profile/integrations). [Notion 401 unauthorized]"
        )
    if error.code == "restricted_resource":
        return SetupError(
            "The integration may not do this: in its settings "
            "(https://www.notion.so/profile/integrations) enable Read, Update and Insert "
            "content, and Read and Insert comments. [Notion 403 restricted_resource]"
        )
    if error.code == "validation_error":
        return SetupError(str(error))
    return None


def _described(database: Json) -> RecipeDatabase:
    sources = database.get("data_sources") or []
    if not sources:
        raise SetupError(
            f"The Notion database {database.get('id')} has no data source; is it a linked "
            "view of another database? Pass the original database's id."
        )
    return RecipeDatabase(str(database["id"]), str(sources[0]["id"]), str(database.get("url", "")))


async def create_database(store: NotionStore, parent_page_id: str, title: str) -> RecipeDatabase:
    """The recipe database under ``parent_page_id``, with every property batchcook writes."""
    body: Json = {
        "parent": {"type": "page_id", "page_id": parent_page_id},
        "title": mapping.rich_text(title),
        "initial_data_source": {"properties": schema.configurations(store.job_property)},
    }
    try:
        database = await store.call(
            "Creating the recipes database",
            partial(store.client.databases.create, **body),
            idempotent=False,  # a repeated create would make a second database
        )
    except NotionAPIError as error:
        _explained(error, "page", parent_page_id)
    except AmbiguousWriteError as error:
        raise StoreError(
            f"Notion did not confirm that the database was created ({error}). Look in the page "
            f"for a database named {title!r} before running this again; if it is there, run "
            "`batchcook notion init --fix DATABASE_ID` on it."
        ) from error
    return _described(database)


async def fix_database(store: NotionStore, database_id: str) -> FixReport:
    """Add every property ``database_id`` lacks; report the ones of another type."""
    try:
        database = await store.call(
            "Opening the database",
            partial(store.client.databases.retrieve, database_id=database_id),
        )
        found = _described(database)
        source = await store.call(
            "Reading the database's properties",
            partial(store.client.data_sources.retrieve, data_source_id=found.data_source_id),
        )
    except NotionAPIError as error:
        _explained(error, "database", database_id)
    properties: Json = source.get("properties") or {}
    required = mapping.required_schema(store.job_property)
    diff = schema.compare(schema.wanted_types(store.job_property), properties)
    report = FixReport(found)
    for name, (actual, kind) in diff.mistyped.items():
        if name in required:
            report.problems.append(
                f"property {name!r} is {actual}, but batchcook writes {kind} there: change its "
                f"type to {kind} in Notion (its column's menu → Edit property → Type), or rename "
                f"it and run --fix again to add a new {name!r}."
            )
        else:
            report.notes.append(
                f"optional property {name!r} is {actual}, not {kind}: batchcook leaves it alone."
            )
    missing = dict(diff.missing)
    if diff.other_title is not None:
        title = next(name for name, kind in missing.items() if kind == "title")
        del missing[title]
        report.problems.append(
            f"the database's title property is {diff.other_title!r}, but batchcook writes "
            f"{title!r}: rename {diff.other_title!r} to {title!r} in Notion (a database has "
            "exactly one title property, so batchcook cannot add another)."
        )
    if missing:
        changes = {name: schema.configuration(name, kind) for name, kind in missing.items()}
        try:
            await store.call(
                "Adding the missing properties",
                partial(
                    store.client.data_sources.update,
                    data_source_id=found.data_source_id,
                    properties=changes,
                ),
            )
        except NotionAPIError as error:
            _explained(error, "database", database_id)
        report.added = missing
    return report
