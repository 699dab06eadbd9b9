"""Recipes as pages in the user's Notion database, through notion-client (async).

Requests per operation (steady state, recipe ≤ 100 blocks):
create = job lookup + upload create + upload send + page create + comment = 5;
update = page read (check it is ours) + upload create + send + one PATCH (properties,
cover and ``erase_content``) + append body + comment = 6;
read = page + children = 2. The first operation also resolves the database (database +
data source) and reads the upload limit (``users/me``): 3 more, once per store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import httpx
from notion_client import AsyncClient
from pydantic import SecretStr

from batchcook import instrument
from batchcook.config import Settings
from batchcook.recipes import notion_mapping as mapping
from batchcook.recipes.schema import Recipe
from batchcook.stores.base import ClosedOnExit, Image, RecipeNotFound, StoredRecipe, StoreError
from batchcook.stores.notion.errors import (
    AmbiguousWriteError,
    NotionAPIError,
    SchemaMismatchError,
)
from batchcook.stores.notion.pacing import PacedTransport, Pacer, shared_pacer
from batchcook.stores.notion.retry import RetryPolicy
from batchcook.stores.notion.schema import compare

T = TypeVar("T")
Json = dict[str, Any]
log = logging.getLogger("batchcook.notion")

#: Single-part uploads are capped at 20 MB whatever the plan; we do not do multi-part.
SINGLE_PART_LIMIT = 20 * 1024 * 1024
DEFAULT_UPLOAD_LIMIT = 5 * 1024 * 1024


class NotionStore(ClosedOnExit):
    """The ``RecipeStore`` on Notion. One instance per process is enough; instances for the
    same token share one pacer, so concurrent jobs stay within Notion's average rate."""

    def __init__(
        self,
        *,
        token: SecretStr | str,
        database_id: str,
        user_id: str | None = None,
        base_url: str = "https://api.notion.com",
        job_property: str = mapping.DEFAULT_JOB_PROPERTY,
        requests_per_second: float = 3.0,
        pacer: Pacer | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
    ) -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        self.database_id = database_id
        self.user_id = user_id or None
        self.base_url = base_url.rstrip("/")
        self.job_property = job_property
        self.schema = mapping.required_schema(job_property)
        self.pacer = pacer or shared_pacer(secret.get_secret_value(), requests_per_second)
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(
            transport=instrument.notion_transport(PacedTransport(self.pacer))
        )
        self._files = httpx.AsyncClient(timeout=timeout, follow_redirects=True)
        self.client = AsyncClient(
            client=self._http,
            auth=secret.get_secret_value(),
            base_url=self.base_url,
            notion_version="2025-09-03",
            timeout_ms=int(timeout * 1000),
            retry=False,
            # The SDK logs every failed attempt as a warning; our retry loop decides what is
            # worth reporting, so the SDK's own logger only shows errors.
            logger=logging.getLogger("batchcook.notion.client"),
            log_level=logging.ERROR,
        )
        self._data_source_id: str | None = None
        self._upload_limit: int | None = None
        self._available: dict[str, str] = {}  # property name -> type, as the database has
        self._resolving = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, database_id: str | None = None) -> NotionStore:
        """``database_id`` overrides NOTION_RECIPES_DATABASE_ID (``""``: no database yet,
        for ``batchcook notion init``, which only uses ``call``)."""
        if database_id is None:
            database_id = settings.notion_recipes_database_id or None
        if settings.notion_token is None or database_id is None:
            raise StoreError(
                "The Notion store needs NOTION_TOKEN and NOTION_RECIPES_DATABASE_ID; unset "
                "NOTION_TOKEN to use the local store instead."
            )
        return cls(
            token=settings.notion_token,
            database_id=database_id,
            user_id=settings.notion_user_id,
            base_url=settings.notion_base_url,
            job_property=settings.notion_job_property,
            requests_per_second=settings.notion_requests_per_second,
            retry=RetryPolicy(
                max_retries=settings.notion_max_retries,
                base_delay=settings.notion_retry_delay,
                max_retry_after=settings.notion_max_retry_after,
            ),
        )

    def __repr__(self) -> str:
        return f"NotionStore(database_id={self.database_id!r}, base_url={self.base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._files.aclose()

    async def call(
        self, what: str, op: Callable[[], Awaitable[Any]], *, idempotent: bool = True
    ) -> Json:
        """One request with the store's pacing, retries and error messages, for tools that
        talk to Notion outside the recipe flow (``batchcook notion init``). ``what`` names
        the step in errors; a write that is not ``idempotent`` raises
        ``AmbiguousWriteError`` on 5xx instead of being repeated."""
        return await self._call(what, op, idempotent=idempotent)

    async def _call(
        self, what: str, op: Callable[[], Awaitable[Any]], *, idempotent: bool = True
    ) -> Json:
        result = await self.retry.call(
            op, what=what, idempotent=idempotent, pacer=self.pacer, schema=self.schema
        )
        return mapping.cast_json(result)

    # --- resolution (once per store) -------------------------------------------------

    async def data_source_id(self) -> str:
        """The database's data source, resolved once; its schema checked against what we
        write, so a mismatch is reported before any page is attempted."""
        async with self._resolving:
            if self._data_source_id is None:
                self._data_source_id = await self._resolve()
            return self._data_source_id

    async def _resolve(self) -> str:
        try:
            database = await self._call(
                "Opening the recipes database",
                lambda: self.client.databases.retrieve(database_id=self.database_id),
            )
        except NotionAPIError as error:
            if error.code in ("object_not_found", "validation_error"):
                raise StoreError(
                    f"Notion has no recipes database {self.database_id!r} shared with the "
                    "integration. Check NOTION_RECIPES_DATABASE_ID (the database's id, from its "
                    "URL) and, in Notion, open the database → ••• → Connections → add the "
                    f"integration. [Notion {error.status} {error.code}: {error.notion_message}]"
                ) from error
            raise
        sources = database.get("data_sources") or []
        if not sources:
            raise StoreError(f"The Notion database {self.database_id!r} has no data source.")
        if len(sources) > 1:
            log.warning(
                "database %s has %d data sources; using the first", self.database_id, len(sources)
            )
        source_id = str(sources[0]["id"])
        source = await self._call(
            "Reading the recipes database's properties",
            lambda: self.client.data_sources.retrieve(data_source_id=source_id),
        )
        properties = source.get("properties") or {}
        self._check_schema(properties)
        self._available = {name: str(p.get("type")) for name, p in properties.items()}
        return source_id

    def _check_schema(self, properties: Json) -> None:
        diff = compare(self.schema, properties)
        problems = [f"add property {name!r} of type {kind}" for name, kind in diff.missing.items()]
        problems += [
            f"property {name!r} is {actual}; change it to {kind}"
            for name, (actual, kind) in diff.mistyped.items()
        ]
        if problems:
            raise SchemaMismatchError(
                "The Notion recipes database does not have the properties batchcook writes: "
                + "; ".join(problems)
                + "."
            )

    async def upload_limit(self) -> int:
        """The workspace's per-file upload limit (5 MiB on Free plans), read once."""
        if self._upload_limit is None:
            me = await self._call("Reading the workspace's limits", self.client.users.me)
            limits = (me.get("bot") or {}).get("workspace_limits") or {}
            self._upload_limit = int(
                limits.get("max_file_upload_size_in_bytes") or DEFAULT_UPLOAD_LIMIT
            )
        return self._upload_limit

    # --- lookups ---------------------------------------------------------------------

    async def find_by_job(self, job_id: str) -> StoredRecipe | None:
        source_id = await self.data_source_id()
        found = await self._call(
            "Looking for the job's recipe page",
            lambda: self.client.data_sources.query(
                data_source_id=source_id,
                filter={"property": self.job_property, "rich_text": {"equals": job_id}},
                page_size=1,
            ),
        )
        results = found.get("results") or []
        if not results:
            return None
        return StoredRecipe(id=results[0]["id"], url=results[0]["url"], job_id=job_id)

    async def _own_page(self, page_id: str) -> Json:
        """The page, if it is a live page of the recipes database."""
        source_id = await self.data_source_id()
        try:
            page = await self._call(
                "Reading the recipe page", lambda: self.client.pages.retrieve(page_id=page_id)
            )
        except NotionAPIError as error:
            if error.code in ("object_not_found", "validation_error"):
                raise RecipeNotFound(
                    f"No Notion page {page_id!r} is shared with the integration. "
                    f"[Notion {error.status} {error.code}: {error.notion_message}]"
                ) from error
            raise
        if (page.get("parent") or {}).get("data_source_id") != source_id:
            raise RecipeNotFound(
                f"Page {page_id!r} is not in the recipes database {self.database_id!r}; "
                "batchcook only reads and changes pages in NOTION_RECIPES_DATABASE_ID."
            )
        if page.get("in_trash"):
            raise RecipeNotFound(f"Page {page_id!r} is in Notion's trash; restore it first.")
        return page

    async def _children(self, block_id: str) -> list[Json]:
        blocks: list[Json] = []
        cursor: str | None = None
        while True:
            kwargs: Json = {"block_id": block_id, "page_size": 100}
            if cursor:
                kwargs["start_cursor"] = cursor
            listing = await self._call(
                "Reading the recipe's body",
                partial(self.client.blocks.children.list, **kwargs),
            )
            blocks.extend(listing.get("results") or [])
            cursor = listing.get("next_cursor")
            if not listing.get("has_more") or not cursor:
                return blocks

    # --- writing ---------------------------------------------------------------------

    async def _upload(self, image: Image, title: str) -> str:
        """Create a single-part upload and send the bytes as multipart. The bytes go as a
        ``(filename, bytes, content type)`` tuple: notion-client sends bare bytes as a
        urlencoded form, which Notion cannot read."""
        limit = min(await self.upload_limit(), SINGLE_PART_LIMIT)
        if len(image.data) > limit:
            raise StoreError(
                f"The image is {len(image.data)} bytes; this Notion workspace accepts files up "
                f"to {limit} bytes (Free plans: 5 MiB). Use JPEG or WebP "
                "(BATCHCOOK_IMAGE_FORMAT) or a lower BATCHCOOK_IMAGE_QUALITY."
            )
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80] or "recipe"
        filename = f"{slug}.{image.extension}"
        for attempt in range(2):
            # Creating an upload twice only leaves an unused one to expire: safe to retry.
            upload = await self._call(
                "Creating the image upload",
                lambda: self.client.file_uploads.create(
                    mode="single_part", filename=filename, content_type=image.content_type
                ),
            )
            try:
                await self._call(
                    "Uploading the image",
                    partial(
                        self.client.file_uploads.send,
                        file_upload_id=upload["id"],
                        file=(filename, image.data, image.content_type),
                    ),
                    idempotent=False,
                )
            except AmbiguousWriteError:
                state = await self._call(
                    "Checking the image upload",
                    partial(self.client.file_uploads.retrieve, file_upload_id=upload["id"]),
                )
                if state.get("status") != "uploaded":
                    if attempt:
                        raise
                    continue
            return str(upload["id"])
        raise AssertionError("unreachable")

    def _cover(self, upload_id: str) -> Json:
        return {"type": "file_upload", "file_upload": {"id": upload_id}}

    async def _append(self, page_id: str, groups: list[list[Json]]) -> None:
        for group in groups:
            await self._call(
                "Writing the recipe's body",
                partial(self.client.blocks.children.append, block_id=page_id, children=group),
                idempotent=False,
            )

    async def _replace_body(self, page_id: str, blocks: list[Json], first: Json) -> Json:
        """One PATCH (``first`` fields plus ``erase_content``) then appends; returns the
        page as the PATCH left it. An ambiguous append is not repeated blindly: the whole
        erase-and-append runs again."""
        groups = mapping.batches(blocks)
        page: Json = {}
        for attempt in range(2):
            patched = await self._call(
                "Updating the recipe page",
                partial(self.client.pages.update, page_id=page_id, erase_content=True, **first),
            )
            page, first = page or patched, {}
            try:
                await self._append(page_id, groups)
                return page
            except AmbiguousWriteError:
                if attempt:
                    raise
        return page

    async def _comment_once(self, page_id: str, rich_text: list[Json]) -> None:
        try:
            await self._call(
                "Commenting on the recipe page",
                lambda: self.client.comments.create(
                    parent={"page_id": page_id}, rich_text=rich_text
                ),
                idempotent=False,
            )
        except AmbiguousWriteError:
            text = mapping.plain_text(rich_text).removeprefix(" ")
            if not any(text in existing for existing in await self.comments(page_id)):
                await self._call(
                    "Commenting on the recipe page",
                    lambda: self.client.comments.create(
                        parent={"page_id": page_id}, rich_text=rich_text
                    ),
                    idempotent=False,
                )

    def _status(self, value: str, batch_ids: list[str] | None = None) -> Json:
        """The optional Status / Batch IDs values, for the properties the database has."""
        props: Json = {}
        if self._available.get(mapping.STATUS) == "select":
            props[mapping.STATUS] = {"select": {"name": value}}
        if batch_ids is not None and self._available.get(mapping.BATCH_IDS) == "rich_text":
            props[mapping.BATCH_IDS] = {"rich_text": mapping.rich_text(", ".join(batch_ids))}
        return props

    async def placeholder(self, title: str, job_id: str, batch_ids: list[str]) -> StoredRecipe:
        """A page that says the recipe is coming (title, Status "Generating", batch ids);
        ``create`` with the same job id later fills it in."""
        source_id = await self.data_source_id()
        existing = await self.find_by_job(job_id)
        if existing is not None:
            return existing
        properties: Json = {
            mapping.NAME: {"title": mapping.rich_text(title)},
            self.job_property: {"rich_text": mapping.rich_text(job_id)},
            **self._status("Generating", batch_ids),
        }
        body = {"parent": {"type": "data_source_id", "data_source_id": source_id}}
        try:
            page = await self._call(
                "Creating the placeholder page",
                lambda: self.client.pages.create(**body, properties=properties),
                idempotent=False,
            )
        except AmbiguousWriteError:
            found = await self.find_by_job(job_id)
            if found is not None:
                return found
            raise
        return StoredRecipe(id=page["id"], url=page["url"], job_id=job_id)

    async def mark_failed(self, job_id: str, reason: str) -> None:
        """Status "Failed" and the reason as a comment, on the job's placeholder if any."""
        existing = await self.find_by_job(job_id)
        if existing is None:
            return
        status = self._status("Failed")
        if status:
            await self._call(
                "Marking the recipe failed",
                partial(self.client.pages.update, page_id=existing.id, properties=status),
            )
        await self._comment_once(
            existing.id, mapping.rich_text(f"Recipe generation failed: {reason}"[:1900])
        )

    async def _fill(self, page_id: str, recipe: Recipe, image: Image | None, job_id: str) -> None:
        """Turn a placeholder into the full recipe: properties, cover, body, ready comment."""
        first: Json = {
            "properties": {
                **mapping.recipe_properties(recipe, job_id=job_id, job_property=self.job_property),
                **self._status("Ready"),
            }
        }
        if image is not None:
            first["cover"] = self._cover(await self._upload(image, recipe.title))
        await self._replace_body(page_id, mapping.recipe_blocks(recipe), first)
        await self._finish(page_id, recipe)

    async def _is_placeholder(self, page_id: str) -> bool:
        page = await self._own_page(page_id)
        props = page.get("properties") or {}
        status = ((props.get(mapping.STATUS) or {}).get("select") or {}).get("name")
        if status is not None:
            return bool(status == "Generating")
        return not mapping.plain_text((props.get(mapping.INGREDIENTS) or {}).get("rich_text") or [])

    async def create(self, recipe: Recipe, image: Image | None, *, job_id: str) -> StoredRecipe:
        source_id = await self.data_source_id()
        existing = await self.find_by_job(job_id)
        if existing is not None:
            if await self._is_placeholder(existing.id):
                await self._fill(existing.id, recipe, image, job_id)
            else:
                await self._finish(existing.id, recipe)
            return existing
        properties = {
            **mapping.recipe_properties(recipe, job_id=job_id, job_property=self.job_property),
            **self._status("Ready"),
        }
        blocks = mapping.recipe_blocks(recipe)
        room = mapping.MAX_BODY_BYTES - len(json.dumps(properties, ensure_ascii=False).encode())
        groups = mapping.batches(blocks, first_budget=max(room, 1))
        body: Json = {
            "parent": {"type": "data_source_id", "data_source_id": source_id},
            "properties": properties,
            "children": groups[0] if groups else [],
        }
        if image is not None:
            body["cover"] = self._cover(await self._upload(image, recipe.title))
        try:
            page = await self._call(
                "Creating the recipe page",
                lambda: self.client.pages.create(**body),
                idempotent=False,
            )
        except AmbiguousWriteError:
            # The page may exist: Notion can save a write and still answer 5xx.
            found = await self.find_by_job(job_id)
            if found is not None:
                await self._finish(found.id, recipe)
                return found
            page = await self._call(
                "Creating the recipe page",
                lambda: self.client.pages.create(**body),
                idempotent=False,
            )
        try:
            await self._append(page["id"], groups[1:])
        except AmbiguousWriteError:
            await self._replace_body(page["id"], blocks, {})
        await self._comment_once(page["id"], mapping.ready_comment(recipe, self.user_id))
        return StoredRecipe(id=page["id"], url=page["url"], job_id=job_id)

    async def _finish(self, page_id: str, recipe: Recipe) -> None:
        """Complete a create that stopped after the page was made (a crash or a lost
        response): body complete, ready comment posted. Only runs on that rare path."""
        blocks = mapping.recipe_blocks(recipe)
        if len(await self._children(page_id)) != len(blocks):
            await self._replace_body(page_id, blocks, {})
        ready = mapping.plain_text(mapping.ready_comment(recipe, None))
        if not any(ready in text for text in await self.comments(page_id)):
            await self._comment_once(page_id, mapping.ready_comment(recipe, self.user_id))

    async def update(self, recipe_id: str, recipe: Recipe, image: Image | None) -> StoredRecipe:
        page = await self._own_page(recipe_id)
        job_id = mapping.job_id_of(page["properties"], self.job_property) or None
        first: Json = {"properties": mapping.recipe_properties(recipe)}
        if image is not None:
            first["cover"] = self._cover(await self._upload(image, recipe.title))
        patched = await self._replace_body(recipe_id, mapping.recipe_blocks(recipe), first)
        await self._comment_once(recipe_id, mapping.change_comment(recipe, self.user_id))
        return StoredRecipe(id=recipe_id, url=str(patched.get("url") or page["url"]), job_id=job_id)

    # --- reading ---------------------------------------------------------------------

    async def read(self, recipe_id: str) -> Recipe:
        recipe, _cover = await self.read_page(recipe_id)
        return recipe

    async def read_page(self, recipe_id: str) -> tuple[Recipe, mapping.Cover | None]:
        """The recipe and its cover's link from one read of the page and its body, for
        readers that link the photo rather than download it (``batchcook export``)."""
        page = await self._own_page(recipe_id)
        try:
            recipe = mapping.recipe_from_page(page["properties"], await self._children(recipe_id))
        except mapping.MappingError as error:
            raise StoreError(self._not_a_recipe(recipe_id, page, error)) from error
        return recipe, mapping.cover_of(page)

    def _not_a_recipe(self, page_id: str, page: Json, error: Exception) -> str:
        """Why a page of the database holds no recipe: a job's placeholder says what the job
        is doing, anything else what is wrong with it."""
        props = page.get("properties") or {}
        status = ((props.get(mapping.STATUS) or {}).get("select") or {}).get("name")
        job = mapping.job_id_of(props, self.job_property)
        if job and status == "Generating":
            return (
                f"Page {page_id!r} holds no recipe yet: {job} is still making it; try again "
                f"when the job has succeeded (`batchcook jobs {job}`)."
            )
        if job and status == "Failed":
            return (
                f"Page {page_id!r} holds no recipe: {job} failed (its comment says why); "
                f"`batchcook retry {job}` tries again."
            )
        return f"Page {page_id!r} does not hold a batchcook recipe: {error}"

    async def read_image(self, recipe_id: str) -> Image | None:
        cover = mapping.cover_of(await self._own_page(recipe_id))
        return None if cover is None else await self.download(cover)

    async def download(self, cover: mapping.Cover) -> Image:
        """The cover's bytes. A file Notion hosts is read from its signed URL, which works
        without the token but only until it expires: read the page again for a fresh one."""
        try:
            response = await self._files.get(cover.url)
            response.raise_for_status()
        except httpx.HTTPError as error:
            reason = (str(error).splitlines() or [type(error).__name__])[0]
            expired = " (a Notion file link expires about an hour after the page is read)"
            raise StoreError(
                f"Downloading the cover image failed: {reason}; try again"
                + (expired if cover.expires else "")
            ) from error
        content_type = response.headers.get("content-type", "").split(";")[0]
        return Image(response.content, content_type)

    async def comment(self, recipe_id: str, text: str) -> None:
        await self._comment_once(recipe_id, mapping.mention_then(text, self.user_id))

    async def comments(self, recipe_id: str) -> list[str]:
        texts: list[str] = []
        cursor: str | None = None
        while True:
            kwargs: Json = {"block_id": recipe_id, "page_size": 100}
            if cursor:
                kwargs["start_cursor"] = cursor
            listing = await self._call(
                "Reading the recipe's comments",
                partial(self.client.comments.list, **kwargs),
            )
            texts.extend(mapping.plain_text(c["rich_text"]) for c in listing.get("results") or [])
            cursor = listing.get("next_cursor")
            if not listing.get("has_more") or not cursor:
                return texts

    # --- webhook support (the #modify flow) ----------------------------------------------

    async def read_comment(self, comment_id: str) -> tuple[str, str, str]:
        """(page id, plain text, author id) of a comment: webhook events carry no content."""
        comment = await self._call(
            "Reading the comment", partial(self.client.comments.retrieve, comment_id=comment_id)
        )
        parent = comment.get("parent") or {}
        page_id = str(parent.get("page_id") or parent.get("block_id") or "")
        author = str((comment.get("created_by") or {}).get("id", ""))
        return page_id, mapping.plain_text(comment.get("rich_text") or []), author

    async def integration_id(self) -> str:
        """Our own bot user: comments it wrote must never trigger a modification."""
        me = await self._call("Reading the integration's user", self.client.users.me)
        return str(me.get("id", ""))

    async def is_recipe_page(self, page_id: str) -> bool:
        try:
            await self._own_page(page_id)
        except RecipeNotFound:
            return False
        return True
