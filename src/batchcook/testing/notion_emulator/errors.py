"""Notion's error answers: ``{object: "error", status, code, message, request_id}``.

Messages copy Notion's wording where it is known (docs, SDK issues); the research notes mark
the rest as approximations.
"""

from __future__ import annotations

from typing import Any

CODES_BY_STATUS = {
    400: "validation_error",
    401: "unauthorized",
    403: "restricted_resource",
    404: "object_not_found",
    409: "conflict_error",
    413: "validation_error",
    429: "rate_limited",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
    529: "service_overload",
}

MESSAGES_BY_STATUS = {
    409: "Conflict occurred while saving. Please try again.",
    429: "You have been rate limited. Please try again in a few minutes.",
    500: "Unexpected error occurred.",
    502: "Bad gateway.",
    503: "Notion is unavailable, please try again later.",
    504: "Notion timed out while processing the request.",
    529: "Notion is currently overloaded. Please try again later.",
}


class NotionError(Exception):
    """An error answer; raised anywhere in a handler, turned into the response body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        additional_data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.additional_data = additional_data

    def body(self, request_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "object": "error",
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        }
        if self.additional_data is not None:
            body["additional_data"] = self.additional_data
        return body


def of_status(status: int, message: str | None = None, **kwargs: Any) -> NotionError:
    code = CODES_BY_STATUS.get(status, "internal_server_error")
    text = message or MESSAGES_BY_STATUS.get(status, "Unexpected error occurred.")
    return NotionError(status, code, text, **kwargs)


def validation(message: str) -> NotionError:
    return NotionError(400, "validation_error", message)


def body_failed(path: str, expectation: str, actual: Any) -> NotionError:
    """Notion's schema-validation wording: ``body failed validation: <path> should be …,
    instead was `…`.``"""
    return validation(
        f"body failed validation: {path} should be {expectation}, instead was `{actual}`."
    )


def too_long(path: str, limit: int, actual: int) -> NotionError:
    return body_failed(f"{path}.length", f"≤ `{limit}`", actual)


def not_found(kind: str, object_id: str) -> NotionError:
    return NotionError(
        404,
        "object_not_found",
        f"Could not find {kind} with ID: {object_id}. Make sure the relevant pages and "
        "databases are shared with your integration.",
    )
