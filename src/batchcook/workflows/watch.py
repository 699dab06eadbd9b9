"""One poller per process for every batch its jobs are waiting on.

A job that polls its own two batches every 10 s costs two calls a round, so N waiting
jobs cost 2N calls a round and wake N times, however slow the batches are. Instead a job
hands its batch ids to this process's watcher and sleeps. The watcher refreshes all of them
together — one ``GET /v1/batches`` page covers 100 — as often as the most impatient job
asked, and wakes a job only when one of its batches changed. The job then reads the
watcher's cache, so its own poll costs nothing.

With several workers, collector rounds run in different processes, each with its own
watcher. So a watcher writes every batch its list pages showed — its own and the other
processes' — to the batches table, and a watcher whose batches were read there moments ago
uses that instead of calling OpenAI: one list page serves every process.

The watcher lives in memory: a crashed process takes it along, and the recovered job
registers again on its next wait. The sweep (which sees every process's batches) and
OpenAI webhooks wake jobs too; a job also wakes by itself after ``max_poll_interval``,
so a watcher that failed to wake it delays it but never strands it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dbos import DBOS
from openai import AsyncOpenAI
from openai.types import Batch

from batchcook.generation.batch import BatchRunner
from batchcook.workflows import parts
from batchcook.workflows.runtime import runtime

log = logging.getLogger(__name__)
WAKE_TOPIC = "wake"
Seen = tuple[str, int, int]  # status, completed, failed: what a job last saw of a batch


def seen(batch: Batch) -> Seen:
    counts = batch.request_counts
    return (batch.status, counts.completed if counts else 0, counts.failed if counts else 0)


@dataclass
class _Entry:
    seen: dict[str, Seen]
    interval: float
    backoff: float
    max_interval: float
    due: float  # time.monotonic()


class Watch:
    """Runs its own event loop on a daemon thread, so jobs on any loop can share it."""

    def __init__(self, openai: Callable[[], AsyncOpenAI]) -> None:
        self._openai = openai
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}  # job id -> what it waits on
        self._cache: dict[str, tuple[Batch, float]] = {}  # batch id -> (batch, fetched at)
        self._loop = asyncio.new_event_loop()
        self._kick = asyncio.Event()
        self._refreshing: asyncio.Future[None] | None = None
        self._pending: set[str] = set()  # ids asked for since the last refresh began
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name="batchcook-watch", daemon=True)
        self.rounds = 0  # refreshes done, for tests and benchmarks

    # --- from jobs (any thread, any loop) --------------------------------------------------

    def start(self) -> Watch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped = True
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._kick.set)
            self._thread.join(5)

    def watch(
        self,
        job_id: str,
        batches: dict[str, Seen],
        interval: float,
        *,
        backoff: float = 1.0,
        max_interval: float | None = None,
    ) -> None:
        """Wake ``job_id`` when any of ``batches`` differs from what it has seen; look every
        ``interval`` seconds, growing by ``backoff`` up to ``max_interval``.

        Watched again while its entry stands (its follower woke by itself, every
        ``max_interval`` at most), a backed-off schedule goes on where it was. Starting over
        from the follower's ``interval``, which grows only once per such wake, made a
        follower of a long batch poll up to six times per ``max_interval`` (fewer at each
        wake, for some 40 minutes) instead of once. (A change ends the entry: the schedule
        then starts anew.)"""
        now = time.monotonic()
        entry = _Entry(
            dict(batches), interval, backoff, max(interval, max_interval or interval), now
        )
        with self._lock:
            before = self._entries.get(job_id)
            if before is not None and backoff > 1.0:
                entry.interval = min(max(interval, before.interval), entry.max_interval)
                entry.due = min(before.due, now + entry.interval)
            else:
                entry.due = now + interval
            self._entries[job_id] = entry
        self._nudge()

    def interval(self, job_id: str) -> float | None:
        """How far apart ``job_id``'s batches are looked at now (None: not watched)."""
        with self._lock:
            entry = self._entries.get(job_id)
            return entry.interval if entry is not None else None

    def unwatch(self, job_id: str) -> None:
        with self._lock:
            self._entries.pop(job_id, None)

    def watching(self) -> int:
        with self._lock:
            return len(self._entries)

    def remember(self, batches: Iterable[Batch]) -> None:
        """Batches someone else just read (the sweep's list pages): jobs it wakes in this
        process then find them fresh and need no call of their own."""
        at = time.monotonic()
        with self._lock:
            for batch in batches:
                self._cache[batch.id] = (batch, at)

    async def batches(
        self, batch_ids: list[str], max_age: float, *, missing_ok: bool = False
    ) -> dict[str, Batch]:
        """The batches, from the cache when it is at most ``max_age`` seconds old. With
        ``missing_ok`` a batch OpenAI does not know is left out instead of raising."""
        if not self._thread.is_alive():  # stopped, or never started: fetch directly
            return await self._fetch_direct(batch_ids, missing_ok=missing_ok)
        future = asyncio.run_coroutine_threadsafe(
            self._batches(batch_ids, max_age, missing_ok), self._loop
        )
        return await asyncio.wrap_future(future)

    # --- on the watcher's loop -------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._run())
        finally:
            self._loop.close()

    def _nudge(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed under us: stopping
                self._loop.call_soon_threadsafe(self._kick.set)

    async def _run(self) -> None:
        while not self._stopped:
            self._kick.clear()  # before reading the entries: a job registering now re-kicks
            with self._lock:
                soonest = min((e.due for e in self._entries.values()), default=None)
            timeout = None if soonest is None else max(0.0, soonest - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout)
            if self._stopped:
                return
            now = time.monotonic()
            with self._lock:
                due = [j for j, e in self._entries.items() if e.due <= now]
                wanted = [b for e in self._entries.values() for b in e.seen]
                due_ids = [b for j in due for b in self._entries[j].seen]
                shortest = min((self._entries[j].interval for j in due), default=0.0)
            if not due:
                continue
            if not self._stale(due_ids, now - shortest / 2):
                # The sweep (or a job's own look) read them moments ago: use that copy.
                await self._after_round(due, now, looked=set(due))
                continue
            # Another process's watcher read them within an interval (as fresh as a poll of
            # our own would be by the next one): phases differ, so half would miss it.
            shared = await self._shared(due_ids, shortest)
            if shared is not None:
                await self._after_round(due, now, looked=set(due), states=shared)
                continue
            try:
                await self._refresh(wanted)
            except Exception as err:  # the API may blip; jobs also wake by themselves
                log.warning("batch watch: refresh failed: %s", err)
            await self._after_round(due, time.monotonic())

    async def _after_round(
        self,
        due: list[str],
        now: float,
        looked: set[str] | None = None,
        states: dict[str, Seen] | None = None,
    ) -> None:
        """Wake the jobs whose batches changed; reschedule the ones ``looked`` at (default:
        everyone, after a refresh of everything watched). ``states``: what the batches table
        says of some batches (read by another process), over this process's cache."""
        wake: list[tuple[str, str, str]] = []
        shared = states or {}

        def now_seen(batch_id: str) -> Seen | None:
            if batch_id in shared:
                return shared[batch_id]
            cached = self._cache.get(batch_id)
            return seen(cached[0]) if cached else None

        with self._lock:
            for job_id, entry in list(self._entries.items()):
                looks = {b: now_seen(b) for b in entry.seen}
                changed = [b for b, before in entry.seen.items() if looks[b] not in (None, before)]
                if changed:
                    wake.append((job_id, changed[0], looks[changed[0]][0]))  # type: ignore[index]
                    del self._entries[job_id]  # it registers again after it has looked
                elif looked is None or job_id in looked:  # its next look: an interval away
                    if job_id in due:
                        entry.interval = min(entry.interval * entry.backoff, entry.max_interval)
                    entry.due = now + entry.interval
            self._forget_unwatched()
        for job_id, batch_id, status in wake:
            try:
                await DBOS.send_async(
                    job_id, {"source": "watch", "batch": batch_id, "status": status}, WAKE_TOPIC
                )
            except Exception as err:  # the job wakes by itself later
                log.warning("batch watch: could not wake %s: %s", job_id, err)

    def _forget_unwatched(self) -> None:
        """Keep the cache to batches somebody waits on (and recent ones a job may read)."""
        watched = {b for e in self._entries.values() for b in e.seen}
        horizon = time.monotonic() - 3600
        for b in [b for b, (_, at) in self._cache.items() if b not in watched and at < horizon]:
            del self._cache[b]

    async def _batches(
        self, batch_ids: list[str], max_age: float, missing_ok: bool = False
    ) -> dict[str, Batch]:
        if self._stale(batch_ids, time.monotonic() - max_age):
            await self._refresh(batch_ids)
        with self._lock:
            unknown = [b for b in batch_ids if b not in self._cache]
            if missing_ok:
                return {b: self._cache[b][0] for b in batch_ids if b in self._cache}
            if unknown:
                raise LookupError(f"OpenAI does not know batch {', '.join(unknown)} (404)")
            return {b: self._cache[b][0] for b in batch_ids}

    def _stale(self, batch_ids: Iterable[str], since: float) -> bool:
        with self._lock:
            return any(b not in self._cache or self._cache[b][1] < since for b in batch_ids)

    async def _refresh(self, batch_ids: list[str]) -> None:
        """Fetch ``batch_ids`` (and everything watched) fresher than now. One refresh runs
        at a time; whoever asks meanwhile waits, and the next refresh takes all their ids
        at once — so jobs polling together share the calls."""
        asked = time.monotonic()
        self._pending.update(batch_ids)
        while True:
            running = self._refreshing
            if running is not None and not running.done():
                with contextlib.suppress(Exception):  # that refresh's owner reports it
                    await asyncio.shield(running)
                if not self._stale(batch_ids, asked):
                    return
                continue
            with self._lock:
                everyone = {b for e in self._entries.values() for b in e.seen}
            ids = list(dict.fromkeys([*self._pending, *everyone]))
            self._pending.clear()
            self._refreshing = asyncio.ensure_future(self._fetch(ids))
            await self._refreshing
            return

    async def _fetch(self, batch_ids: list[str]) -> None:
        shown: dict[str, Batch] = {}
        fresh = await self._fetch_direct(batch_ids, shown=shown)
        at = time.monotonic()
        with self._lock:
            for batch_id, batch in fresh.items():
                self._cache[batch_id] = (batch, at)
        self.rounds += 1
        await self._share({**shown, **fresh})

    async def _fetch_direct(
        self,
        batch_ids: list[str],
        missing_ok: bool = True,
        shown: dict[str, Batch] | None = None,
    ) -> dict[str, Batch]:
        """By default one job's unknown batch must not stop the others' refresh: 404s are
        left out (the job asking for it gets a LookupError from ``batches``)."""
        async with self._openai() as client:
            return await BatchRunner(client).refresh(batch_ids, missing_ok=missing_ok, shown=shown)

    async def _shared(self, batch_ids: list[str], age: float) -> dict[str, Seen] | None:
        """The batches as another process read them in the last ``age`` seconds, or None."""
        try:
            url = runtime().settings.database()
            found = await asyncio.to_thread(parts.fresh_states, url, batch_ids, time.time() - age)
        except Exception as err:  # the table is a shortcut: without it, OpenAI is asked
            log.debug("batch watch: no shared states: %s", err)
            return None
        if found is None:
            return None
        return {s["id"]: (s["status"], s["completed"], s["failed"]) for s in found}

    async def _share(self, shown: dict[str, Batch]) -> None:
        """Write what the pages showed to the batches table (rows that are not ours, or not
        collector rounds', are not there: nothing is written for them)."""
        if not shown:
            return
        try:
            url = runtime().settings.database()
            states = [parts.state_of(b) for b in shown.values()]
            await asyncio.to_thread(parts.update_batches, url, states)
        except Exception as err:
            log.debug("batch watch: could not share batch states: %s", err)


_watch: Watch | None = None


def current() -> Watch:
    """This process's watcher, started on first use. It reaches OpenAI through the runtime
    as configured at each call (tests re-point it between runs)."""
    global _watch
    if _watch is None:
        _watch = Watch(lambda: runtime().openai()).start()
    return _watch


def stop() -> None:
    global _watch
    if _watch is not None:
        _watch.stop()
        _watch = None


def wake_message(message: Any) -> bool:
    """True when the message came from this process's watcher (its cache is fresh)."""
    return isinstance(message, dict) and message.get("source") == "watch"
