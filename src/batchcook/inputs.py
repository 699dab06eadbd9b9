"""Validating what a user asks for, once, for every entry point (API, CLI, demo).

A job that starts is a job that may be paid for, so everything that can be checked without
a network call is checked here, before a job exists: a bad prompt, mode, database id or
request id is an ``InputError`` (the API answers 422 naming the field, the CLI exits 2).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, get_args

from batchcook.config import Mode, Settings
from batchcook.errors import BatchcookError
from batchcook.jobs import Job, JobKind, new_job_id

MODES: tuple[str, ...] = get_args(Mode)
MAX_REQUEST_ID_CHARS = 100
# A Notion id (32 hex digits, or a dashed UUID) alone or ending a URL's last segment, as in
# https://www.notion.so/Pasta-Carbonara-0123456789abcdef0123456789abcdef
_NOTION_ID = re.compile(
    r"(?:^|-)([0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$",
    re.IGNORECASE,
)


class InputError(BatchcookError, ValueError):
    """Bad input caught before anything reaches OpenAI (API 422, CLI exit 2)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def check_text(text: Any, settings: Settings, what: str = "prompt") -> str:
    """A prompt a model can act on: text with at least one letter or digit, valid Unicode
    (a lone surrogate cannot be stored or sent), within the length limit."""
    if text is None:
        raise InputError(f"the {what} is missing: say what to cook", what)
    if not isinstance(text, str):
        raise InputError(f"the {what} must be a string: say what to cook", what)
    text = text.strip()
    if not text:
        raise InputError(f"the {what} is empty: say what to cook", what)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise InputError(f"the {what} is not valid Unicode (it holds a lone surrogate)", what)
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise InputError(f"the {what} has no letters or digits: say what to cook", what)
    if len(text) > settings.max_prompt_chars:
        raise InputError(
            f"the {what} is {len(text):,} characters; the limit is {settings.max_prompt_chars:,} "
            "(BATCHCOOK_MAX_PROMPT_CHARS)",
            what,
        )
    return text


def check_mode(mode: Any, settings: Settings) -> Mode:
    chosen: Any = settings.mode if mode is None or mode == "" else mode
    if chosen not in MODES:
        raise InputError(f"unknown mode {chosen!r}: use one of {', '.join(MODES)}", "mode")
    mode_: Mode = chosen
    return mode_


def check_notion_id(value: Any, field: str) -> str | None:
    """A Notion page or database id, or None when absent. A pasted URL gives its id; anything
    else (a path, a number, an object) is refused before a job can pay for batches."""
    if value is None or value == "":
        return None
    found = None
    if isinstance(value, str) and len(value) <= 2000:
        segment = value.strip().split("?")[0].split("#")[0].rstrip("/").rsplit("/", 1)[-1]
        found = _NOTION_ID.search(segment)
    if found is None:
        raise InputError(
            f"'{field}' must be a Notion id (32 hexadecimal digits) or the page's URL", field
        )
    return found.group(1)


def check_request_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_REQUEST_ID_CHARS:
        raise InputError(
            f"'request_id' must be a string of at most {MAX_REQUEST_ID_CHARS} characters",
            "request_id",
        )
    return value


def build_job(
    kind: JobKind,
    prompt: Any,
    settings: Settings,
    *,
    mode: Any = None,
    database_id: Any = None,
    request_id: Any = None,
    page_id: Any = None,
) -> Job:
    """A validated job; ``request_id`` makes the id, so a repeated request is the same job."""
    text = check_text(prompt, settings, "prompt" if kind == "create" else "request")
    page = None
    if kind == "modify":
        if not isinstance(page_id, str) or not page_id.strip():
            raise InputError(
                "the page id is empty: pass the recipe's Notion page id or URL ('page_id')",
                "page_id",
            )
        page = check_notion_id(page_id, "page_id")
    return Job(
        id=new_job_id(kind, check_request_id(request_id)),
        kind=kind,
        prompt=text,
        mode=check_mode(mode, settings),
        database_id=check_notion_id(database_id, "db") or settings.notion_recipes_database_id,
        page_id=page,
    )


def prompt_lines(text: str) -> list[str]:
    """The prompts of a file given to ``create --file``: one a line, blank lines and lines
    starting with ``#`` skipped."""
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def build_bulk(
    items: Any,
    settings: Settings,
    *,
    mode: Any = None,
    database_id: Any = None,
    request_id: Any = None,
) -> list[Job]:
    """One job per prompt, all validated before any starts (one bad prompt starts none).

    ``items`` are prompts, or objects ``{"prompt", "mode", "request_id"}`` overriding the
    shared mode; a shared ``request_id`` makes item *i*'s id ``<request_id>-<i>``, so sending
    the same list again starts nothing new."""
    if not isinstance(items, list) or not items:
        raise InputError("'prompts' must be a non-empty list of prompts", "prompts")
    if len(items) > settings.max_bulk_prompts:
        raise InputError(
            f"{len(items):,} prompts; the limit is {settings.max_bulk_prompts:,} a request "
            "(BATCHCOOK_MAX_BULK_PROMPTS): send them in several requests",
            "prompts",
        )
    shared = check_request_id(request_id)
    jobs: list[Job] = []
    for i, item in enumerate(items):
        fields = item if isinstance(item, dict) else {"prompt": item}
        own = fields.get("request_id")
        try:
            jobs.append(
                build_job(
                    "create",
                    fields.get("prompt"),
                    settings,
                    mode=fields.get("mode", mode),
                    database_id=database_id,
                    request_id=own if own is not None else (f"{shared}-{i}" if shared else None),
                )
            )
        except InputError as error:
            raise InputError(f"prompt {i + 1}: {error.message}", f"prompts[{i}]") from None
    ids = [job.id for job in jobs]
    if len(set(ids)) != len(ids):
        raise InputError("two prompts have the same request_id", "prompts")
    return jobs
