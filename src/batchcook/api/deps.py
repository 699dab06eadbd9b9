"""What routes share: the app's settings and caches, and the API key check (a dependency)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from fastapi import Request

from batchcook.api import keys
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
    query = request.query_params.get("key") if allow_query_key else None
    given = keys.presented(request.headers.get("authorization", ""), query)
    if not keys.accepts(app_state(request).settings, given):
        raise HTTPProblem(401, keys.REFUSED)


async def api_key(request: Request) -> None:
    """BATCHCOOK_API_KEY as a bearer token (when one is set)."""
    _authorize(request, allow_query_key=False)


async def api_key_or_query(request: Request) -> None:
    """The same, or ``?key=`` for clients that cannot send a header (phone shortcuts,
    Prometheus's simplest config); access logs redact it."""
    _authorize(request, allow_query_key=True)
