"""A validator for our JSON-LD against schema.org's own definitions (a slice of them, in
``schemaorg_recipe.json``, extracted by ``scripts/extract_schemaorg_vocab.py``).

It checks what an importer relies on and a typo would break: every ``@type`` is a schema.org
type, every key a property of that type or an ancestor (superseded ones refused), every value
of a type the property's range allows, durations ISO 8601, quantities "<number> <unit>", and
enumeration values members of their enumeration.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

VOCAB: dict[str, Any] = json.loads((Path(__file__).parent / "schemaorg_recipe.json").read_text())
TYPES: dict[str, Any] = VOCAB["types"]
ENUMERATIONS: dict[str, list[str]] = VOCAB["enumerations"]
SCHEMA_ORG = "https://schema.org/"

ISO_DURATION = re.compile(
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)
#: schema.org: "Properties that take Energy as values are of the form '<Number> <Energy unit
#: of measure>'" (https://schema.org/Energy); the same for Mass (https://schema.org/Mass).
QUANTITIES = {
    "Energy": re.compile(r"^\d+(\.\d+)? (kcal|cal|kJ)$"),
    "Mass": re.compile(r"^\d+(\.\d+)? (mg|g|kg|mcg|µg|μg)$"),
}


def ancestors(type_name: str) -> list[str]:
    """The type and every type it descends from."""
    seen: list[str] = []
    todo = [type_name]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.append(name)
            todo += TYPES[name]["subTypeOf"]
    return seen


def properties(type_name: str) -> dict[str, list[str]]:
    """Property → range types, declared on the type or any ancestor."""
    merged: dict[str, list[str]] = {}
    for name in ancestors(type_name):
        merged.update(TYPES[name]["properties"])
    return merged


def duration_minutes(value: str) -> int:
    """An ISO 8601 duration (hours and minutes only, as ours are) in minutes."""
    match = ISO_DURATION.match(value)
    assert match, f"not an ISO 8601 duration: {value!r}"
    hours = int((match.group(6) or "0H")[:-1])
    minutes = int((match.group(7) or "0M")[:-1])
    assert not any(match.group(i) for i in (1, 2, 3, 4, 8)), f"unexpected unit in {value!r}"
    return 60 * hours + minutes


def _check_string(value: str, ranges: list[str], where: str) -> list[str]:
    enums = [r for r in ranges if r in ENUMERATIONS]
    if enums and value.startswith(SCHEMA_ORG):
        member = value.removeprefix(SCHEMA_ORG)
        if any(member in ENUMERATIONS[e] for e in enums):
            return []
        return [f"{where}: {value!r} is not a member of {', '.join(enums)}"]
    if "Text" in ranges:
        return []
    if "URL" in ranges:
        parts = urlsplit(value)
        ok = bool(parts.scheme) and bool(parts.netloc or parts.scheme in ("file", "data"))
        return [] if ok else [f"{where}: {value!r} is not an absolute URL"]
    if "Duration" in ranges:
        return [] if ISO_DURATION.match(value) else [f"{where}: {value!r} is not ISO 8601"]
    for quantity, form in QUANTITIES.items():
        if quantity in ranges:
            return [] if form.match(value) else [f"{where}: {value!r} is not a {quantity}"]
    return [f"{where}: a string is not allowed here (range {', '.join(ranges)})"]


def _check_value(value: Any, ranges: list[str], where: str) -> list[str]:
    if isinstance(value, dict):
        kind = value.get("@type")
        if kind in TYPES and not set(ancestors(kind)) & set(ranges):
            return [f"{where}: a {kind} is not allowed here (range {', '.join(ranges)})"]
        return validate(value, where)
    if isinstance(value, str):
        if not value.strip():
            return [f"{where}: empty string"]
        return _check_string(value, ranges, where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [f"{where}: unexpected {type(value).__name__}"]
    return [] if {"Number", "Integer"} & set(ranges) else [f"{where}: a number is not allowed"]


def validate(node: dict[str, Any], where: str = "$") -> list[str]:
    """Every way ``node`` departs from the vocabulary (an empty list when it does not)."""
    kind = node.get("@type")
    if kind not in TYPES:
        return [f"{where}: unknown @type {kind!r}"]
    allowed = properties(kind)
    errors: list[str] = []
    for key, value in node.items():
        at = f"{where}.{key}"
        if key == "@type":
            continue
        if key == "@context":
            if where != "$" or value != SCHEMA_ORG.rstrip("/"):
                errors.append(f"{at}: expected 'https://schema.org' at the top only")
            continue
        if key in VOCAB["superseded"]:
            errors.append(f"{at}: superseded by {VOCAB['superseded'][key]}")
        elif key not in allowed:
            errors.append(f"{at}: not a property of {kind} or its ancestors")
        else:
            values = value if isinstance(value, list) else [value]
            if not values:
                errors.append(f"{at}: empty list")
            for i, item in enumerate(values):
                errors += _check_value(item, allowed[key], f"{at}[{i}]")
    return errors
