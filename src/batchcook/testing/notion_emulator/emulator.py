"""``NotionEmulator``: one object that owns the workspace, clock, rate limit and fault plan,
and serves them as an ASGI app (``emulator.app``)."""

from __future__ import annotations

from batchcook.recipes.notion_mapping import DEFAULT_JOB_PROPERTY
from batchcook.testing.notion_emulator.app import NotionApp
from batchcook.testing.notion_emulator.clock import Clock
from batchcook.testing.notion_emulator.faults import FaultPlan
from batchcook.testing.notion_emulator.models import Comment, Page, Recorded, new_id
from batchcook.testing.notion_emulator.ratelimit import RateLimit
from batchcook.testing.notion_emulator.render import render_html, render_text
from batchcook.testing.notion_emulator.workspace import Workspace

#: The API version this emulator implements. Real Notion also accepts older versions with
#: other semantics; refusing them here makes version drift in our code fail a test.
SUPPORTED_VERSIONS = frozenset({"2025-09-03"})


class NotionEmulator:
    """A stateful, in-process Notion API for tests and demos.

    ``token`` is the one integration's secret; ``plan`` picks the per-file upload limit
    (``free`` 5 MiB, ``paid`` 5 GiB); ``rate`` is requests/second per token (``None``
    turns the limit off), ``burst`` how many may come at once.
    """

    def __init__(
        self,
        token: str = "secret_emulator_token",
        *,
        plan: str = "paid",
        rate: float | None = 3.0,
        burst: float = 10.0,
        job_property: str = DEFAULT_JOB_PROPERTY,
        versions: frozenset[str] = SUPPORTED_VERSIONS,
    ) -> None:
        self.clock = Clock()
        self.workspace = Workspace(self.clock, token=token, plan=plan, job_property=job_property)
        self.rate_limit = RateLimit(self.clock, rate, burst)
        self.faults = FaultPlan()
        self.versions = versions
        self.app = NotionApp(self)

    def __repr__(self) -> str:
        return f"NotionEmulator(database={self.recipes_database_id!r})"

    @property
    def token(self) -> str:
        return self.workspace.integration.token

    @property
    def recipes_database_id(self) -> str:
        return self.workspace.recipes_database_id

    @property
    def recipes_data_source_id(self) -> str:
        return self.workspace.recipes_data_source_id

    @property
    def user_id(self) -> str:
        """A person in the workspace, to mention in comments (``NOTION_USER_ID``)."""
        return self.workspace.person_id

    @property
    def journal(self) -> list[Recorded]:
        return self.workspace.journal

    def pages(self, *, in_trash: bool = False) -> list[Page]:
        with self.workspace.lock:
            return [p for p in self.workspace.pages.values() if p.in_trash == in_trash]

    def add_user_comment(self, page_id: str, text: str) -> str:
        """A comment written by a person in the Notion UI (what triggers ``#modify``)."""
        with self.workspace.lock:
            comment = Comment(
                new_id(),
                page_id,
                new_id(),
                [{"type": "text", "text": {"content": text, "link": None}, "plain_text": text}],
                self.clock.now(),
                self.workspace.person_id,
            )
            self.workspace.comments[comment.id] = comment
            return comment.id

    def render_text(self, page_id: str) -> str:
        with self.workspace.lock:
            return render_text(self.workspace, page_id)

    def render_html(self, page_id: str, base_url: str = "") -> str:
        with self.workspace.lock:
            return render_html(self.workspace, page_id, base_url)

    def add_page(self, title: str = "Home", *, shared: bool = True) -> str:
        """A page in no database, to create databases under (``shared=False``: one the
        integration was not given access to)."""
        return self.workspace.add_page(title, shared=shared)

    def set_property(self, name: str, kind: str | None, *, data_source_id: str = "") -> None:
        """Retype, add or (``kind=None``) remove a property, as a user would in Notion."""
        ws = self.workspace
        ws.set_property(ws.data_sources[data_source_id or ws.recipes_data_source_id], name, kind)
