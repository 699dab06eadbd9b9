"""The API key rule, for every door that asks for it (the API, the gallery's form, a
worker's metrics port): with BATCHCOOK_API_KEY unset every request may in; with it set,
only a request presenting it, compared in constant time."""

from __future__ import annotations

import hmac

from batchcook.config import Settings

REFUSED = "missing or wrong API key: send 'Authorization: Bearer <BATCHCOOK_API_KEY>'"


def presented(authorization: str, query_key: str | None = None) -> str:
    """The key a request presents: a bearer token, else (where a door allows it) ``?key=``."""
    token = authorization[7:] if authorization.lower().startswith("bearer ") else ""
    return token or (query_key or "")


def accepts(settings: Settings, given: str) -> bool:
    if settings.api_key is None:
        return True
    expected = settings.api_key.get_secret_value().encode()
    return bool(given) and hmac.compare_digest(given.encode(), expected)
