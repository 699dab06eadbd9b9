"""Submit, poll and collect batches through the official async SDK.

Retries of single API calls (429 honouring ``retry-after``, 5xx, connection errors) are the
SDK's job — it does them with backoff — so the client given here decides how many
(``max_retries``). This module adds what the SDK cannot know: which batches belong together,
when to stop waiting, and how to read two result files back into one answer per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
import openai
import orjson
from openai import AsyncOpenAI
from openai.types import Batch

from batchcook.generation.batch.facts import (
    COMPLETION_WINDOW,
    INSTALL_METADATA,
    JOB_METADATA,
    TERMINAL,
)
from batchcook.generation.batch.jsonl import MAX_BYTES, MAX_LINES, BatchRequest, Chunk, plan_chunks
from batchcook.generation.batch.results import Failure, Result, Success
from batchcook.generation.errors import BatchCreationError, BatchTimeoutError

log = logging.getLogger(__name__)

LIST_PAGE = 100
_CUSTOM_ID = re.compile(r'"custom_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _transport_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [openai.APIConnectionError, httpx.TransportError]
    try:  # the SDK's own transport (openai>=3 ships on httpx2)
        import httpx2

        errors.append(httpx2.TransportError)
    except ImportError:  # pragma: no cover - depends on the SDK version
        pass
    return tuple(errors)


TRANSPORT_ERRORS = _transport_errors()


def parse_line(raw: str | bytes, batch_id: str) -> Result:
    """One output or error file line as a result (a line that is not JSON fails alone)."""
    try:
        line: dict[str, Any] = orjson.loads(raw)
        custom_id = str(line["custom_id"])
    except (orjson.JSONDecodeError, ValueError, KeyError, TypeError):
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        match = _CUSTOM_ID.search(raw)
        if match is None:
            raise ValueError(
                f"batch {batch_id} returned an unreadable line with no custom_id: {raw[:120]!r}"
            ) from None
        return Failure(
            match.group(1),
            "malformed",
            "malformed_output_line",
            f"output line is not valid JSON: {raw[:120]!r}",
            batch_id,
        )
    error = line.get("error")
    response = line.get("response") or {}
    status = response.get("status_code")
    if error:
        code = error.get("code")
        kind = {"batch_expired": "expired", "batch_cancelled": "cancelled"}.get(code, "http_error")
        return Failure(custom_id, kind, code, error.get("message", ""), batch_id, status)  # type: ignore[arg-type]
    body = response.get("body") or {}
    if status == 200:
        return Success(custom_id, body, batch_id)
    api_error = body.get("error") or {}
    return Failure(
        custom_id,
        "http_error",
        api_error.get("code"),
        api_error.get("message", f"HTTP {status}"),
        batch_id,
        status,
    )


T = TypeVar("T")


@dataclass(frozen=True)
class SubmittedBatch:
    id: str
    endpoint: str
    model: str
    input_file_id: str
    custom_ids: list[str] = field(default_factory=list)


class Recorder(Protocol):
    """Told about every file and batch the moment it exists, so nothing paid for is lost."""

    def file_uploaded(self, file_id: str, chunk: Chunk) -> None: ...

    def batch_created(self, batch: SubmittedBatch) -> None: ...

    def batch_polled(self, batch: Batch) -> None:
        """Every state of a batch the runner reads — a create's answer is the first."""
        ...


class NullRecorder:
    def file_uploaded(self, file_id: str, chunk: Chunk) -> None:
        pass

    def batch_created(self, batch: SubmittedBatch) -> None:
        pass

    def batch_polled(self, batch: Batch) -> None:
        pass


class BatchRunner:
    """The Batch API as one call: ``results = await runner.run(requests)``.

    ``sleep`` and ``clock`` drive polling; tests pass the emulator's clock so "every 10 s
    for 5 minutes" runs in no wall time.
    """

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        poll_interval: float = 10.0,
        poll_timeout: float = 300.0,
        recorder: Recorder | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_lines: int = MAX_LINES,
        max_bytes: int = MAX_BYTES,
        download_attempts: int = 3,
        max_concurrency: int = 32,
        file_ttl: int | None = None,
    ) -> None:
        self.client = client
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        self.recorder = recorder or NullRecorder()
        self.sleep = sleep
        self.clock = clock
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.download_attempts = download_attempts
        # Files that expire by themselves (input files, and the output and error files of
        # the batches made from them) need no delete calls: seconds after creation, or None.
        self.file_ttl = file_ttl
        # One runner serves many jobs: cap the calls in flight so a burst of prompts queues
        # here instead of opening thousands of connections (uploads are limited per minute).
        self._slots = asyncio.Semaphore(max_concurrency)

    # --- the whole round trip ------------------------------------------------------------

    async def run(
        self,
        requests: Iterable[BatchRequest],
        metadata: dict[str, str] | None = None,
        *,
        cleanup: bool = True,
    ) -> dict[str, Result]:
        """Submit, wait, collect; then delete the files (inputs and results) once read."""
        return await self.finish(await self.submit(requests, metadata), cleanup=cleanup)

    async def finish(
        self, submitted: list[SubmittedBatch], *, cleanup: bool = True
    ) -> dict[str, Result]:
        """Wait for submitted batches, collect their results, then delete their files."""
        batches = await self.wait([s.id for s in submitted])
        results = await self.collect(batches.values(), {s.id: s.custom_ids for s in submitted})
        if cleanup:
            await self.delete_files(
                files_of([s.input_file_id for s in submitted], batches.values())
            )
        return results

    # --- submit --------------------------------------------------------------------------

    async def submit(
        self, requests: Iterable[BatchRequest], metadata: dict[str, str] | None = None
    ) -> list[SubmittedBatch]:
        """Upload one file per chunk and create the batches concurrently.

        If any creation fails, the batches already created are cancelled (they would cost
        money for an answer nobody reads) and ``BatchCreationError`` is raised.
        """
        chunks = plan_chunks(requests, max_lines=self.max_lines, max_bytes=self.max_bytes)
        if not chunks:
            return []
        outcomes = await asyncio.gather(
            *(self._submit_one(c, metadata) for c in chunks), return_exceptions=True
        )
        created = [o for o in outcomes if isinstance(o, SubmittedBatch)]
        problems = [o for o in outcomes if isinstance(o, BaseException)]
        if problems:
            await self.cancel([b.id for b in created])
            first = problems[0]
            if isinstance(first, BatchCreationError):
                raise first
            raise BatchCreationError(f"batch creation failed: {first}", first) from first
        return created

    async def submit_chunk(
        self, chunk: Chunk, metadata: dict[str, str] | None = None
    ) -> SubmittedBatch:
        """Upload one planned file and create its batch (``BatchCreationError`` if refused)."""
        return await self._submit_one(chunk, metadata)

    async def _submit_one(self, chunk: Chunk, metadata: dict[str, str] | None) -> SubmittedBatch:
        name = f"batchcook-{chunk.model}-{len(chunk.lines)}.jsonl"
        expiry: Any = openai.omit
        if self.file_ttl is not None:
            expiry = {"anchor": "created_at", "seconds": self.file_ttl}
        try:
            async with self._slots:
                uploaded = await self.client.files.create(
                    file=(name, chunk.data()), purpose="batch", expires_after=expiry
                )
        except openai.APIError as err:
            raise BatchCreationError(
                f"uploading the {chunk.endpoint} input file failed: {err}", err
            ) from err
        self.recorder.file_uploaded(uploaded.id, chunk)
        try:
            async with self._slots:
                batch = await self.client.batches.create(
                    input_file_id=uploaded.id,
                    endpoint=chunk.endpoint,  # type: ignore[arg-type]
                    completion_window=COMPLETION_WINDOW,
                    metadata=metadata,
                    output_expires_after=expiry,
                )
        except openai.APIError as err:
            if isinstance(err, openai.APIStatusError) and err.status_code < 500:
                # Refused for sure (4xx): no batch will ever read the file, so do not leave it
                # behind. After a 5xx or a timeout the batch may exist: keep its input.
                await self.delete_files([uploaded.id])
            raise BatchCreationError(
                f"creating the {chunk.endpoint} batch failed: {err}", err
            ) from err
        submitted = SubmittedBatch(
            id=batch.id,
            endpoint=chunk.endpoint,
            model=chunk.model,
            input_file_id=uploaded.id,
            custom_ids=list(chunk.custom_ids),
        )
        self.recorder.batch_created(submitted)
        self.recorder.batch_polled(batch)
        log.info("created %s (%s, %d requests)", batch.id, chunk.endpoint, len(chunk.lines))
        return submitted

    # --- poll ----------------------------------------------------------------------------

    async def wait(self, batch_ids: list[str]) -> dict[str, Batch]:
        """Poll until every batch is terminal, or raise ``BatchTimeoutError`` with their ids."""
        started = self.clock()
        latest: dict[str, Batch] = {}
        while True:
            pending = [b for b in batch_ids if b not in latest or latest[b].status not in TERMINAL]
            fresh = await self.refresh(pending)
            for batch in fresh.values():
                self.recorder.batch_polled(batch)
            latest.update(fresh)
            if all(latest[b].status in TERMINAL for b in batch_ids):
                return {b: latest[b] for b in batch_ids}
            waited = self.clock() - started
            if waited >= self.poll_timeout:
                statuses: dict[str, str] = {b: latest[b].status for b in batch_ids}
                raise BatchTimeoutError(
                    [b for b in batch_ids if latest[b].status not in TERMINAL], statuses, waited
                )
            await self.sleep(min(self.poll_interval, self.poll_timeout - waited))

    async def refresh(
        self,
        batch_ids: Iterable[str],
        *,
        missing_ok: bool = False,
        shown: dict[str, Batch] | None = None,
    ) -> dict[str, Batch]:
        """Current state of each batch, in as few calls as the account allows.

        ``GET /v1/batches`` pages (100 batches, newest first) are read while the batches
        still missing outnumber the pages already read; whatever no page showed is then
        retrieved one by one. Recent batches — the usual case — cost one page per 100, and
        old ones never cost more than twice a ``retrieve`` each. With ``missing_ok``, a
        batch the account does not know (404) is left out instead of failing the rest.
        ``shown`` receives every batch the pages showed, wanted or not: a caller that shares
        what it read (other processes follow other batches) gets them for the same calls.
        """
        wanted = list(dict.fromkeys(batch_ids))
        found: dict[str, Batch] = {}
        if len(wanted) >= 2:
            missing = set(wanted)
            after: str | openai.Omit = openai.omit
            pages = 0
            while missing and pages < len(missing):
                async with self._slots:
                    page = await self.client.batches.list(limit=LIST_PAGE, after=after)
                pages += 1
                for b in page.data:
                    if shown is not None:
                        shown[b.id] = b
                    if b.id in missing:
                        found[b.id] = b
                        missing.discard(b.id)
                if not page.has_more or not page.data:
                    break
                after = page.data[-1].id
        rest = [b for b in wanted if b not in found]
        fetched = await asyncio.gather(*(self._retrieve(b, missing_ok) for b in rest))
        found.update({b.id: b for b in fetched if b is not None})
        return found

    async def _retrieve(self, batch_id: str, missing_ok: bool = False) -> Batch | None:
        try:
            async with self._slots:
                return await self.client.batches.retrieve(batch_id)
        except openai.NotFoundError:
            if missing_ok:
                return None
            raise

    # --- collect -------------------------------------------------------------------------

    async def collect(
        self, batches: Iterable[Batch], expected: dict[str, list[str]] | None = None
    ) -> dict[str, Result]:
        """One result per ``custom_id`` from terminal batches, reading output and error files."""
        results: dict[str, Result] = {}
        for batch in batches:
            wanted = (expected or {}).get(batch.id, [])
            if batch.status == "failed":
                for custom_id in wanted:
                    results[custom_id] = batch_failure(batch, custom_id)
                continue
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    results.update(await self._read_results(batch, file_id))
            for custom_id in wanted:
                if custom_id not in results:
                    results[custom_id] = Failure(
                        custom_id,
                        "expired"
                        if batch.status == "expired"
                        else "cancelled"
                        if batch.status == "cancelled"
                        else "missing",
                        None,
                        f"batch ended {batch.status} with no line for this request",
                        batch.id,
                    )
        return results

    async def stream_results(
        self,
        batch: Batch,
        file_id: str,
        sink: Callable[[list[T]], Awaitable[None]],
        size: int = 32,
        max_bytes: int = 4_000_000,
        parse: Callable[[bytes, str], T] = parse_line,  # type: ignore[assignment]
    ) -> int:
        """Hand one result file to ``sink`` at most ``size`` lines (and about ``max_bytes``)
        at a time, never holding more: a 1.5 GB file of images streams in flat memory. A
        dropped connection starts the file over (the sink must take a line twice: it stores
        by custom id). ``parse`` turns a line into what the sink takes (a ``Result`` unless
        the caller stores something leaner, as the service does)."""
        for attempt in range(1, self.download_attempts + 1):
            try:
                async with (
                    self._slots,
                    self.client.files.with_streaming_response.content(file_id) as response,
                ):
                    chunks = response.iter_bytes()  # as they arrive: no re-chunking copy
                    return await route_lines(chunks, batch.id, sink, size, max_bytes, parse)
            except TRANSPORT_ERRORS as err:
                log.warning(
                    "download of %s broke (%s), attempt %d/%d",
                    file_id,
                    type(err).__name__,
                    attempt,
                    self.download_attempts,
                )
                if attempt == self.download_attempts:
                    raise
        raise AssertionError("unreachable")

    async def _read_results(self, batch: Batch, file_id: str) -> dict[str, Result]:
        """One result file as a dict by custom id (the library's in-memory path; the
        service streams into its parts table instead). A restarted download overwrites."""
        results: dict[str, Result] = {}

        async def keep(lines: list[Result]) -> None:
            results.update((r.custom_id, r) for r in lines)

        await self.stream_results(batch, file_id, keep)
        return results

    # --- housekeeping --------------------------------------------------------------------

    async def cancel(self, batch_ids: Iterable[str]) -> None:
        """Best effort: a batch that already finished cannot be cancelled, and that is fine."""

        async def one(batch_id: str) -> None:
            try:
                async with self._slots:
                    await self.client.batches.cancel(batch_id)
            except openai.APIStatusError as err:
                log.info("cancel %s: %s", batch_id, err)

        await asyncio.gather(*(one(b) for b in batch_ids))

    async def delete_files(self, file_ids: Iterable[str]) -> None:
        async def one(file_id: str) -> None:
            with contextlib.suppress(openai.NotFoundError):
                async with self._slots:
                    await self.client.files.delete(file_id)

        await asyncio.gather(*(one(f) for f in set(file_ids)))

    async def list_ours(self, owner: str, install: str, scan: int = 1000) -> list[Batch]:
        """Live batches whose ``batchcook_job`` metadata names ``owner`` (of ``install``),
        among the ``scan`` newest on the account (only a re-run after a crash looks)."""
        found: list[Batch] = []
        seen = 0
        async for batch in self.list_batches():
            seen += 1
            if seen > scan:
                break
            meta = batch.metadata or {}
            if (
                meta.get(JOB_METADATA) == owner
                and meta.get(INSTALL_METADATA, install) == install
                and batch.status not in ("cancelling", "cancelled", "failed")
            ):
                found.append(batch)
        return found

    async def list_batches(self, limit: int = LIST_PAGE) -> AsyncIterator[Batch]:
        """Every batch on the account, newest first (the API cannot filter: filter here)."""
        async for batch in self.client.batches.list(limit=limit):
            yield batch


async def route_lines(
    chunks: AsyncIterator[bytes],
    batch_id: str,
    sink: Callable[[list[T]], Awaitable[None]],
    size: int = 32,
    max_bytes: int = 4_000_000,
    parse: Callable[[bytes, str], T] = parse_line,  # type: ignore[assignment]
) -> int:
    """A result file's bytes → results (``parse`` of each line), handed to ``sink`` in
    slices; returns the count. One slice is stored while the next is read and parsed (at
    most two held)."""
    count, held = 0, 0
    pending: list[T] = []
    storing: asyncio.Future[None] | None = None
    try:
        async for raw in _lines(chunks):
            pending.append(parse(raw, batch_id))
            held += len(raw)
            if len(pending) >= size or held >= max_bytes:
                if storing is not None:
                    await storing
                storing = asyncio.ensure_future(sink(pending))
                count, pending, held = count + len(pending), [], 0
        if storing is not None:
            await storing
            storing = None
        if pending:
            await sink(pending)
    finally:
        if storing is not None and not storing.done():
            storing.cancel()
    return count + len(pending)


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Non-blank lines as bytes, split here rather than decoded to text first: a 1.5 MB
    line of base64 goes to the JSON parser as it came. A line is copied once, when it is
    joined from the pieces of the chunks it spans."""
    pieces: list[memoryview] = []
    async for chunk in chunks:
        view = memoryview(chunk)
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            line = b"".join((*pieces, view[start:end])) if pieces else chunk[start:end]
            pieces.clear()
            if line.strip():
                yield line
            start = end + 1
        if start < len(chunk):
            pieces.append(view[start:])
    line = b"".join(pieces)
    if line.strip():
        yield line


def files_of(input_file_ids: Iterable[str], batches: Iterable[Batch]) -> list[str]:
    """Every file a set of batches holds on the account: inputs, outputs, errors."""
    ids = list(input_file_ids)
    for b in batches:
        ids.extend(f for f in (b.output_file_id, b.error_file_id) if f)
    return ids


def batch_failure(batch: Batch, custom_id: str) -> Failure:
    errors = batch.errors.data if batch.errors and batch.errors.data else []
    message = (
        "; ".join(f"{e.message}" + (f" (line {e.line})" if e.line else "") for e in errors)
        or "the batch failed without errors"
    )
    return Failure(custom_id, "batch_failed", errors[0].code if errors else None, message, batch.id)
