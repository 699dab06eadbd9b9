"""Data-source query filters, evaluated against a page's stored values."""

from __future__ import annotations

from typing import Any

from batchcook.testing.notion_emulator.errors import body_failed, validation
from batchcook.testing.notion_emulator.models import DataSource, Page, property_name

_TEXT_OPS = {
    "equals": lambda v, x: v == x,
    "does_not_equal": lambda v, x: v != x,
    "contains": lambda v, x: x in v,
    "does_not_contain": lambda v, x: x not in v,
    "starts_with": lambda v, x: v.startswith(x),
    "ends_with": lambda v, x: v.endswith(x),
    "is_empty": lambda v, x: v == "",
    "is_not_empty": lambda v, x: v != "",
}


def matches(source: DataSource, page: Page, rule: Any) -> bool:
    """Data-source filters: compound ``and``/``or``, text conditions on title/rich_text,
    ``equals`` on select and number."""
    if not isinstance(rule, dict):
        raise body_failed("body.filter", "an object", rule)
    if "and" in rule:
        return all(matches(source, page, r) for r in rule["and"])
    if "or" in rule:
        return any(matches(source, page, r) for r in rule["or"])
    key = rule.get("property")
    name = property_name(source, str(key))
    if name is None:
        raise validation(f"Could not find property with name or id: {key}")
    kind = source.properties[name]["type"]
    if kind not in rule:
        given = next((k for k in rule if k != "property"), "undefined")
        raise validation(f"database property {kind} does not match filter {given}")
    condition = rule[kind]
    if not isinstance(condition, dict) or len(condition) != 1:
        raise body_failed(f"body.filter.{kind}", "an object with one condition", condition)
    op, operand = next(iter(condition.items()))
    value = page.values.get(name)
    if kind in ("title", "rich_text"):
        text = "".join(item["plain_text"] for item in value or [])
        if op not in _TEXT_OPS:
            raise body_failed(f"body.filter.{kind}", "a text condition", op)
        return bool(_TEXT_OPS[op](text, operand))
    if kind == "select" and op == "equals":
        return value is not None and value["name"] == operand
    if kind == "number" and op == "equals":
        return bool(value == operand)
    raise validation(f"The emulator does not model the filter {kind}.{op}.")
