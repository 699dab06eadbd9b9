"""Notion's errors, turned into messages that say which property or setting to fix."""

from __future__ import annotations

import json
import re
from typing import Any

from notion_client.errors import HTTPResponseError

from batchcook.stores.base import StoreError

_UNKNOWN_PROPERTY = re.compile(r"^(?P<name>.+) is not a property that exists\.?$")
_WRONG_TYPE = re.compile(r"^(?P<name>.+) is expected to be (?P<type>\w+)\.?$")
_PROPERTY_PATH = re.compile(r"body\.properties\.(?P<name>.+?)\.(?P<type>title|rich_text|\w+)[\[.]")


class NotionAPIError(StoreError):
    """Notion refused a request. ``code`` and ``notion_message`` are Notion's own;
    ``property_name``/``expected_type`` are set when a property is to blame."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        notion_message: str,
        request_id: str | None = None,
        property_name: str | None = None,
        expected_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.notion_message = notion_message
        self.request_id = request_id
        self.property_name = property_name
        self.expected_type = expected_type
        # Notion was busy, failing or silent (after the store's own retries): later may work.
        self.retryable = status == 0 or status == 429 or status >= 500


class AmbiguousWriteError(StoreError):
    """A write may or may not have happened (5xx or timeout): read back before repeating."""

    retryable = True  # the store's writes find what an earlier try made, by the job id

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class SchemaMismatchError(StoreError):
    """The recipes database lacks properties we write, or has them with other types."""


def _code_and_message(error: HTTPResponseError) -> tuple[str, str, str | None]:
    """notion-client does not know some codes (``service_overload`` for 529): read the body
    ourselves so the message keeps Notion's code and text."""
    code = getattr(error.code, "value", error.code)
    message, request_id = str(error), error.request_id
    try:
        body: Any = json.loads(error.body)
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict):
        code = body.get("code", code)
        message = body.get("message", message)
        request_id = body.get("request_id", request_id)
    return str(code), message, request_id


def translate(error: HTTPResponseError, what: str, schema: dict[str, str]) -> NotionAPIError:
    """``what`` says what we were doing ("Creating the recipe page"); ``schema`` is the
    property → type map we write, to name the expected type."""
    code, message, request_id = _code_and_message(error)
    prop: str | None = None
    expected: str | None = None
    advice = "see Notion's message"
    if code == "validation_error":
        if match := _UNKNOWN_PROPERTY.match(message):
            prop = match["name"]
            expected = schema.get(prop)
            advice = (
                f"the recipes database has no property {prop!r}; add it with type "
                f"{expected or 'as required'} (names must match exactly)"
            )
        elif match := _WRONG_TYPE.match(message):
            prop, expected = match["name"], match["type"]
            advice = (
                f"property {prop!r} in the recipes database has type {expected}, but batchcook "
                f"writes {schema.get(prop, 'another type')}; change the property's type in "
                "Notion to match"
            )
        elif match := _PROPERTY_PATH.search(message):
            prop, expected = match["name"], schema.get(match["name"])
            advice = f"the value for property {prop!r} ({expected}) breaks a Notion limit"
        elif "body.children" in message:
            advice = "the page body breaks a Notion limit (blocks per request or text length)"
    elif code == "unauthorized":
        advice = "check NOTION_TOKEN: it must be the integration's internal secret"
    elif code == "restricted_resource":
        advice = (
            "the integration lacks a capability: in its settings enable Read, Update and "
            "Insert content, and Read and Insert comments"
        )
    elif code == "object_not_found":
        advice = (
            "the object does not exist or is not shared with the integration: open it in "
            "Notion, ••• → Connections, and add the integration"
        )
    elif code in ("rate_limited", "service_overload"):
        advice = "Notion kept asking us to slow down; try again later"
    elif error.status >= 500:
        advice = "Notion is having trouble; try again later"
    text = f"{what} failed: {advice}. [Notion {error.status} {code}: {message}]"
    return NotionAPIError(
        text,
        status=error.status,
        code=code,
        notion_message=message,
        request_id=request_id,
        property_name=prop,
        expected_type=expected,
    )
