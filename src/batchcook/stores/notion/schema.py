"""The recipe database's schema as Notion takes it, and how a database differs from it.

Pure: one source of truth for the store's check on first use and for ``batchcook notion
init`` / ``--fix``, both derived from ``RECIPE_PROPERTIES`` / ``required_schema()`` and
``OPTIONAL_PROPERTIES``, so a new property in the mapping reaches all three.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from batchcook.recipes import notion_mapping as mapping

Json = dict[str, Any]


def wanted_types(job_property: str = mapping.DEFAULT_JOB_PROPERTY) -> dict[str, str]:
    """Every property a recipe database made by batchcook has: the required ones (the store
    refuses to write without them), then the optional ones (filled in when present)."""
    return {**mapping.required_schema(job_property), **mapping.OPTIONAL_PROPERTIES}


def configuration(name: str, kind: str) -> Json:
    """A property's configuration in Notion's request shape (``{type: {...}}``). Select
    options are left for Notion to add as pages use them, except ``Status``, whose three
    values are known in advance: creating them keeps their colours stable."""
    if kind == "number":
        return {"number": {"format": "number"}}
    if name == mapping.STATUS and kind == "select":
        return {"select": {"options": [{"name": s, "color": c} for s, c in STATUS_COLORS.items()]}}
    if kind in ("select", "multi_select"):
        return {kind: {"options": []}}
    return {kind: {}}


#: The Status values the store writes (``mapping.STATUS_VALUES``), with their colours.
STATUS_COLORS = dict(zip(mapping.STATUS_VALUES, ("yellow", "green", "red"), strict=True))


def configurations(job_property: str = mapping.DEFAULT_JOB_PROPERTY) -> dict[str, Json]:
    """``initial_data_source.properties`` for a new recipe database."""
    return {name: configuration(name, kind) for name, kind in wanted_types(job_property).items()}


@dataclass
class SchemaDiff:
    """How a data source's properties differ from what batchcook writes, by name (the
    store writes by name, so a renamed property counts as missing)."""

    missing: dict[str, str] = field(default_factory=dict)  # name -> type to add
    mistyped: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (has, wants)
    #: The database's title property when it is not the one batchcook writes: a database
    #: has exactly one, so the wanted one cannot be added, only renamed by the user.
    other_title: str | None = None

    def __bool__(self) -> bool:
        return bool(self.missing or self.mistyped)


def compare(wanted: Mapping[str, str], properties: Mapping[str, Json]) -> SchemaDiff:
    """``properties`` as a data source returns them (name → ``{"type": …}``)."""
    diff = SchemaDiff()
    for name, kind in wanted.items():
        if name not in properties:
            diff.missing[name] = kind
        elif (actual := str(properties[name].get("type"))) != kind:
            diff.mistyped[name] = (actual, kind)
    if any(kind == "title" for kind in diff.missing.values()):
        diff.other_title = next(
            (n for n, p in properties.items() if p.get("type") == "title"), None
        )
    return diff
