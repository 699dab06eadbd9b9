"""OpenAI's error envelope, raised anywhere in the emulator and rendered in one place."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """An HTTP error exactly as OpenAI shapes it: ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def not_found(message: str, *, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(404, message, param=param, code=code)


def server_error() -> APIError:
    return APIError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )


def overloaded() -> APIError:
    return APIError(
        503, "The engine is currently overloaded, please try again later.", type="server_error"
    )


def rate_limited(retry_after: float) -> APIError:
    return APIError(
        429,
        "Rate limit reached for requests. Please try again in "
        f"{retry_after:g}s. Visit https://platform.openai.com/account/rate-limits to learn more.",
        type="requests",
        code="rate_limit_exceeded",
        headers={"retry-after": f"{retry_after:g}"},
    )
