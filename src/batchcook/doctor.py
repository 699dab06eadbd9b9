"""``batchcook doctor``: every mistake of a first setup that can be seen before paying.

A job pays for its batches before it writes its page, so a wrong database id, a missing
property, a retired model or an image size the model refuses would otherwise cost money and
then fail. Each check here returns data (``Check``); the CLI renders it, ``serve`` logs it,
and the create preflight (``preflight``) refuses a job with the same words.

Checks that call out are cheap reads: ``GET /v1/models`` (OpenAI key), ``GET /v1/users/me``
(Notion token), the database and its data source (schema), one connection to the system
database. Nothing is written anywhere.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openai
import psycopg

from batchcook.config import Mode, Settings, without_password
from batchcook.generation.catalog import Catalog, Endpoint, load_catalog
from batchcook.generation.generate import RETIREMENT_WARNING_DAYS
from batchcook.generation.image_options import size_problem
from batchcook.recipes import notion_mapping as mapping
from batchcook.single_flight import SingleFlight
from batchcook.stores.base import StoreError
from batchcook.stores.notion import NotionStore, RetryPolicy, schema
from batchcook.stores.notion.errors import NotionAPIError
from batchcook.stores.notion.webhook import verification_token

NOTION_TIMEOUT = 10.0  # seconds per request: a doctor that hangs helps nobody


@dataclass(frozen=True)
class Check:
    check: str
    ok: bool
    detail: str
    #: The failure is the other side's (Notion or OpenAI down), not the configuration:
    #: the API answers 503 instead of 422, and waiting may be enough.
    outage: bool = False

    def public(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


def _today(today: date | None) -> date:
    return today or datetime.now(UTC).date()


# --- pure checks: the settings and the catalog ---------------------------------------------


def url_check(name: str, url: str | None, *, v1: bool) -> Check:
    """A base URL a client can use: ``OPENAI_BASE_URL`` ends in ``/v1`` (the SDK appends
    ``/batches``), ``NOTION_BASE_URL`` does not (the Notion client appends ``/v1/...``)."""
    if url is None:
        return Check(name, True, "the official API")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return Check(name, False, f"{url!r} is not an http(s) URL: e.g. https://host/v1")
    path = parts.path.rstrip("/")
    if v1 and not path.endswith("/v1"):
        return Check(name, False, f"{url!r} should end in /v1 (e.g. {url.rstrip('/')}/v1)")
    if not v1 and path.endswith("/v1"):
        fixed = url.rstrip("/").removesuffix("/v1")
        return Check(name, False, f"{url!r} must not end in /v1: use {fixed}")
    return Check(name, True, url)


def model_check(
    what: str,
    name: str,
    catalog: Catalog,
    endpoint: Endpoint,
    today: date,
    *,
    mode: Mode = "batch",
    batched: bool = True,
    refuse_retiring: bool = True,
) -> Check:
    """The model exists for ``endpoint``, runs in ``mode`` and is not retired (nor, with
    ``refuse_retiring``, shutting down within 30 days). Typos get a "did you mean" among
    the models still served."""
    variable = "BATCHCOOK_TEXT_MODEL" if endpoint == "/v1/responses" else "BATCHCOOK_IMAGE_MODEL"
    check = f"{what} model"
    # Suggest only models that will still be served in a month: never one to move off again.
    served = [
        m.name
        for m in catalog.models.values()
        if m.endpoint == endpoint and not m.retiring_within(today, RETIREMENT_WARNING_DAYS)
    ]
    info = catalog.find(name)
    if info is None or info.endpoint != endpoint:
        close = difflib.get_close_matches(name, served, n=1)
        hint = f"did you mean {close[0]!r}? The" if close else "use one of the"
        article = "an" if what[0] in "aeiou" else "a"
        kind = "not in the catalog" if info is None else f"not {article} {what} model"
        return Check(
            check,
            False,
            f"{variable}={name!r} is {kind}: {hint} {what} models: {', '.join(sorted(served))}",
        )
    if info.retired(today):
        return Check(
            check,
            False,
            f"{name} was shut down on {info.shutdown}: set {variable}={info.replacement}",
        )
    if batched and not info.batch:
        return Check(check, False, f"{name} is not available in the Batch API: use another model")
    if mode == "flex" and endpoint == "/v1/responses" and not info.flex:
        return Check(check, False, f"{name} has no flex tier: use mode batch or standard")
    if info.retiring_within(today, RETIREMENT_WARNING_DAYS):
        detail = f"{name} shuts down on {info.shutdown}: set {variable}={info.replacement}"
        return Check(check, not refuse_retiring, detail)
    return Check(check, True, name)


def image_check(settings: Settings) -> Check:
    problem = size_problem(settings.image_model, settings.image_size)
    if problem:
        return Check(
            "image options", False, f"BATCHCOOK_IMAGE_SIZE={settings.image_size}: {problem}"
        )
    detail = f"{settings.image_size}, {settings.image_quality}, {settings.image_format}"
    return Check("image options", True, detail)


def model_checks(
    settings: Settings, today: date, *, mode: Mode | None = None, refuse_retiring: bool = True
) -> list[Check]:
    try:
        catalog = load_catalog(settings.catalog_path)
    except (OSError, ValueError) as error:
        return [Check("model catalog", False, f"BATCHCOOK_CATALOG cannot be read: {error}")]
    mode = mode or settings.mode
    image_batched = mode == "batch" or (mode == "flex" and settings.flex_image == "batch")
    return [
        model_check(
            "text",
            settings.text_model,
            catalog,
            "/v1/responses",
            today,
            mode=mode,
            batched=mode == "batch",
            refuse_retiring=refuse_retiring,
        ),
        model_check(
            "image",
            settings.image_model,
            catalog,
            "/v1/images/generations",
            today,
            mode=mode,
            batched=image_batched,
            refuse_retiring=refuse_retiring,
        ),
        image_check(settings),
    ]


def webhook_check(settings: Settings) -> Check:
    """What is checkable offline: the OpenAI secret's shape (the SDK refuses others) and
    whether the Notion webhook has its verification token yet."""
    secret = settings.openai_webhook_secret
    if secret is not None and not secret.get_secret_value().startswith("whsec_"):
        return Check(
            "webhooks",
            False,
            "OPENAI_WEBHOOK_SECRET does not start with whsec_: copy the signing secret from "
            "the webhook's page in the OpenAI dashboard",
        )
    parts = ["OpenAI webhook on" if secret else "OpenAI webhook off (polling)"]
    if settings.notion_token is not None:
        has_token = verification_token(settings) is not None
        parts.append(
            "Notion webhook verified"
            if has_token
            else "Notion webhook not set up (optional: #modify comments; see Notion webhook setup)"
        )
    return Check("webhooks", True, "; ".join(parts))


# --- checks that call out ---------------------------------------------------------------------


async def openai_check(settings: Settings) -> Check:
    """The key is accepted: one ``GET /v1/models`` (free), no retries."""
    key = settings.openai_api_key
    if key is None or not key.get_secret_value():
        return Check(
            "OpenAI key",
            False,
            "OPENAI_API_KEY is not set: make one at https://platform.openai.com/api-keys",
        )
    client = openai.AsyncOpenAI(
        api_key=key.get_secret_value(),
        base_url=settings.openai_base_url,
        max_retries=0,
        timeout=10.0,
    )
    try:
        await client.models.list()
    except openai.AuthenticationError:
        return Check(
            "OpenAI key",
            False,
            "OpenAI refused OPENAI_API_KEY: copy a current key from "
            "https://platform.openai.com/api-keys",
        )
    except openai.PermissionDeniedError:
        # A restricted key may lack "Models: read" and still run batches: it was accepted.
        return Check("OpenAI key", True, "accepted (this key may not list models)")
    except openai.RateLimitError as error:
        if error.code == "insufficient_quota":
            return Check(
                "OpenAI key",
                False,
                "the key is accepted but the account has no quota left: add credit at "
                "https://platform.openai.com/settings/organization/billing",
            )
        return Check("OpenAI key", True, "accepted (rate limited just now)")
    except openai.NotFoundError:
        return Check(
            "OpenAI key",
            False,
            "GET /models answered 404: OPENAI_BASE_URL should be the API root ending in /v1",
        )
    except openai.APIConnectionError:
        return Check(
            "OpenAI key",
            False,
            f"cannot reach {client.base_url}: check OPENAI_BASE_URL and the network",
            outage=True,
        )
    except openai.APIStatusError as error:
        return Check(
            "OpenAI key",
            False,
            f"OpenAI answered {error.status_code}: try again later",
            outage=True,
        )
    finally:
        await client.close()
    return Check("OpenAI key", True, "accepted")


def _notion_store(settings: Settings, database_id: str) -> NotionStore:
    """The store's connection with few, short retries: a check that waits minutes on a
    failing Notion helps nobody (the job's own store keeps its patient retries)."""
    assert settings.notion_token is not None
    return NotionStore(
        token=settings.notion_token,
        database_id=database_id,
        base_url=settings.notion_base_url,
        job_property=settings.notion_job_property,
        requests_per_second=settings.notion_requests_per_second,
        retry=RetryPolicy(max_retries=1, base_delay=0.5, max_retry_after=5.0),
        timeout=NOTION_TIMEOUT,
    )


def _notion_failure(check: str, error: StoreError, what: str) -> Check:
    if isinstance(error, NotionAPIError):
        if error.code == "unauthorized":
            return Check(
                check,
                False,
                "Notion refused NOTION_TOKEN: set it to the integration's Internal Integration "
                "Secret (https://www.notion.so/profile/integrations)",
            )
        if error.code in ("object_not_found", "validation_error"):
            return Check(
                check,
                False,
                f"Notion has no database {what} shared with the integration: check "
                "NOTION_RECIPES_DATABASE_ID, or the job's db (the 32 characters before ?v= "
                "in the database's link) and, "
                "in Notion, open it → ••• → Connections → add the integration",
            )
        if error.code == "restricted_resource":
            return Check(
                check,
                False,
                "the integration lacks a capability: enable Read, Update and Insert content "
                "and Read/Insert comments in its settings",
            )
        if not error.retryable:
            return Check(check, False, f"Notion answered {error.status} {error.code}")
    return Check(check, False, f"Notion is not answering: {error}", outage=True)


def schema_detail(diff: schema.SchemaDiff) -> str:
    parts = [f"missing {name!r} ({kind})" for name, kind in diff.missing.items()]
    parts += [
        f"{name!r} is {has}, should be {wants}" for name, (has, wants) in diff.mistyped.items()
    ]
    return "; ".join(parts)


async def notion_database_check(settings: Settings, database_id: str | None) -> Check:
    """The recipes database is reachable and has every property the store writes."""
    check = "recipes database"
    if not database_id:
        return Check(
            check,
            False,
            "NOTION_RECIPES_DATABASE_ID is not set: run `batchcook notion init --parent PAGE_ID`"
            " to make the database, or set it to your database's id",
        )
    store = _notion_store(settings, database_id)
    try:
        database = await store.call(
            "Opening the recipes database",
            lambda: store.client.databases.retrieve(database_id=database_id),
        )
        sources = database.get("data_sources") or []
        if not sources:
            return Check(check, False, f"database {database_id} has no data source")
        source_id = str(sources[0]["id"])
        source = await store.call(
            "Reading the recipes database's properties",
            lambda: store.client.data_sources.retrieve(data_source_id=source_id),
        )
    except StoreError as error:
        return _notion_failure(check, error, database_id)
    finally:
        await store.aclose()
    diff = schema.compare(
        mapping.required_schema(settings.notion_job_property), source.get("properties") or {}
    )
    if diff:
        return Check(
            check,
            False,
            f"{schema_detail(diff)}: run `batchcook notion init --fix {database_id}` "
            "(a wrong type is yours to change in Notion)",
        )
    return Check(check, True, f"{database_id}: every property is there")


async def notion_checks(settings: Settings) -> list[Check]:
    if settings.notion_token is None:  # as the store is chosen (stores.open_store)
        detail = f"local store in {settings.data_dir} (NOTION_TOKEN unset)"
        return [Check("Notion", True, detail)]
    store = _notion_store(settings, "")
    try:
        me = await store.call("Checking the token", lambda: store.client.users.me())
    except StoreError as error:
        return [_notion_failure("Notion token", error, "")]
    finally:
        await store.aclose()
    name = me.get("name") or me.get("id", "")
    token = Check("Notion token", True, f"accepted (integration {name})")
    return [token, await notion_database_check(settings, settings.notion_recipes_database_id)]


def system_database_check(settings: Settings) -> Check:
    """One connection to the system database (DBOS creates its tables, and a missing
    Postgres database, on first use: only the server and the credentials must be right)."""
    url = settings.database()
    check = "system database"
    if url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
        if not existing.is_dir() or not _writable(existing):
            return Check(check, False, f"cannot create {folder}: set BATCHCOOK_DATA_DIR")
        return Check(check, True, f"SQLite in {folder}")
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    host = urlsplit(conninfo).hostname or "localhost"
    try:
        with psycopg.connect(conninfo, connect_timeout=5):
            pass
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "refused"
        if "does not exist" in reason and "database" in reason:
            return Check(
                check, True, f"PostgreSQL on {host} (the database is created on first use)"
            )
        return Check(
            check,
            False,
            f"BATCHCOOK_DATABASE_URL: cannot connect to PostgreSQL on {host}: "
            f"{without_password(reason)}",
        )
    return Check(check, True, f"PostgreSQL on {host}")


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


async def run_doctor(settings: Settings, today: date | None = None) -> list[Check]:
    """Every check, in the order a person fixes them."""
    day = _today(today)
    checks = [
        url_check("OpenAI base URL", settings.openai_base_url, v1=True),
        url_check("Notion base URL", settings.notion_base_url, v1=False),
    ]
    checks.append(await openai_check(settings))
    checks += model_checks(settings, day)
    checks += await notion_checks(settings)
    checks.append(webhook_check(settings))
    checks.append(await asyncio.to_thread(system_database_check, settings))
    return checks


# --- the create preflight -----------------------------------------------------------------------


class SchemaCache:
    """Recent successful database checks, so a burst of creates costs Notion two reads per
    ``ttl`` seconds, not per job. Failures are not kept: a fixed database is seen at once."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._ok: dict[str, float] = {}
        self._checking: SingleFlight[Check] = SingleFlight()

    def fresh(self, database_id: str) -> bool:
        seen = self._ok.get(database_id)
        return seen is not None and time.monotonic() - seen < self.ttl

    def remember(self, database_id: str) -> None:
        self._ok[database_id] = time.monotonic()

    async def check_once(
        self, database_id: str, check: Callable[[], Coroutine[Any, Any, Check]]
    ) -> Check:
        """Run ``check`` for ``database_id``, or wait for the one already running: fifty
        creates arriving together (a cold start, or the cache just expired) make one pair
        of Notion reads, not fifty."""
        result = await asyncio.shield(self._checking.task(check, database_id))
        if result.ok:
            self.remember(database_id)
        return result


async def preflight(
    settings: Settings,
    *,
    mode: Mode,
    database_id: str | None,
    today: date | None = None,
    cache: SchemaCache | None = None,
) -> list[Check]:
    """What would make a job fail after paying; empty when it may start. A model shutting
    down soon still runs (with a warning in the log), a retired one does not."""
    failed = [
        c
        for c in model_checks(settings, _today(today), mode=mode, refuse_retiring=False)
        if not c.ok
    ]
    if failed or settings.notion_token is None:
        return failed
    target = database_id or settings.notion_recipes_database_id
    if target and cache is not None:
        if cache.fresh(target):
            return []
        check = await cache.check_once(target, lambda: notion_database_check(settings, target))
    else:
        check = await notion_database_check(settings, target)
    return [] if check.ok else [check]
