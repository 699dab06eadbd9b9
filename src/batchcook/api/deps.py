"""What routes share: the app's settings and caches, and the API key check (a dependency)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from fastapi import Request

from batchcook.api.problems import HTTPProblem
from batchcook.config import Settings
from batchcook.doctor import SchemaCache

#: Seconds a successful check of a recipes database's properties is trusted by the create
#: preflight: a burst of requests costs Notion two reads per minute, not two per job.
SCHEMA_CHECK_TTL = 60.0


@dataclass
class AppState:
    """One per app (``app.state.batchcook``): what ``create_app`` was given."""

    settings: Settings
    today: Callable[[], date] | None = None  # the date retirements are judged on (tests pin it)
    schema_cache: SchemaCache = field(default_factory=lambda: SchemaCache(SCHEMA_CHECK_TTL))

    def date(self) -> date | None:
        return self.today() if self.today else None


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.batchcook
    return state


def _authorize(request: Request, *, allow_query_key: bool) -> None:
    settings = app_state(request).settings
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value()
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else ""
    if not given and allow_query_key:
        given = request.query_params.get("key", "")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPProblem(
            401, "missing or wrong API key: send 'Authorization: Bearer <BATCHCOOK_API_KEY>'"
        )


async def api_key(request: Request) -> None:
    """BATCHCOOK_API_KEY as a bearer token (when one is set)."""
    _authorize(request, allow_query_key=False)


async def api_key_or_query(request: Request) -> None:
    """The same, or ``?key=`` for clients that cannot send a header (phone shortcuts,
    Prometheus's simplest config); access logs redact it."""
    _authorize(request, allow_query_key=True)
