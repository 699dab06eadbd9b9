"""Failover for workers that die for good.

DBOS recovers a process's unfinished jobs only when a process with the same executor id
starts again (shared/research/engines.md §4.1). A worker that never comes back would keep
its jobs forever. So every worker writes a heartbeat row into the shared database, and the
sweep resumes the PENDING jobs of any executor silent for longer than
``BATCHCOOK_EXECUTOR_TIMEOUT`` — on a live executor, from their last checkpoint, so no step
that already ran runs again.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    inspect,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex

BUSY_SECONDS = 30.0  # how long a SQLite connection waits for a lock (DBOS's own: 30 s)

log = logging.getLogger(__name__)
metadata = MetaData()
heartbeats = Table(
    "batchcook_heartbeats",
    metadata,
    Column("executor_id", String(200), primary_key=True),
    Column("last_seen", Float, nullable=False),
)


def sqlalchemy_url(url: str) -> str:
    """DBOS takes ``postgresql://``; SQLAlchemy needs the psycopg (3) driver named."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def use_wal(url: str) -> None:
    """Put a SQLite system database in WAL mode (it stays so: the mode is kept in the file).

    In SQLite's default rollback journal a reader blocks every writer, and DBOS, the parts
    table and a thousand sleeping jobs all share one file: under load, steps waited on locks
    and failed with "database is locked". In WAL, readers never block the one writer, and
    with ``synchronous`` left at FULL a committed step is as durable as before. WAL needs the
    file on a local disk (not a network share), as SQLite itself always has."""
    if not url.startswith("sqlite:///"):
        return
    path = url.removeprefix("sqlite:///")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path, timeout=BUSY_SECONDS)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def connect(url: str, tables: MetaData = metadata) -> Engine:
    """An engine on the shared database, with ``tables`` and their indexes created if they
    are missing. Its pool is small (at most 3 connections): DBOS's own pool is the one that
    matters. On SQLite it waits for a lock as long as DBOS's own engine does, not sqlite3's
    5 s."""
    sqlite = url.startswith("sqlite:///")
    engine = create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=1,
        max_overflow=2,
        pool_timeout=60,
        connect_args={"timeout": BUSY_SECONDS} if sqlite else {},
    )
    try:
        tables.create_all(engine)
        with engine.begin() as conn:  # an index added since an existing table was made
            for table in tables.tables.values():
                for index in table.indexes:
                    conn.execute(CreateIndex(index, if_not_exists=True))
    except DBAPIError:
        # Workers starting together race to create the table (on Postgres even
        # CREATE TABLE IF NOT EXISTS can collide); losing that race is fine.
        if not all(inspect(engine).has_table(t) for t in tables.tables):
            raise
    return engine


_shared: dict[tuple[str, int], Engine] = {}
_shared_lock = threading.Lock()


def shared(url: str, tables: MetaData) -> Engine:
    """One engine per database and table set for the whole process (marks, the spend
    ledger): made, with its tables, on first use; closed by ``dispose_shared``."""
    key = (url, id(tables))
    with _shared_lock:
        if key not in _shared:
            _shared[key] = connect(url, tables)
        return _shared[key]


def dispose_shared() -> None:
    with _shared_lock:
        for engine in _shared.values():
            engine.dispose()
        _shared.clear()


def beat(engine: Engine, executor_id: str, now: float | None = None) -> None:
    stamp = time.time() if now is None else now
    with engine.begin() as conn:
        conn.execute(delete(heartbeats).where(heartbeats.c.executor_id == executor_id))
        conn.execute(heartbeats.insert().values(executor_id=executor_id, last_seen=stamp))


def stale(engine: Engine, older_than: float, now: float | None = None) -> list[str]:
    cutoff = (time.time() if now is None else now) - older_than
    with engine.begin() as conn:
        rows = conn.execute(select(heartbeats.c.executor_id).where(heartbeats.c.last_seen < cutoff))
        return [r[0] for r in rows]


def forget(engine: Engine, executor_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(heartbeats).where(heartbeats.c.executor_id == executor_id))


class Heartbeat:
    """A daemon thread beating every ``interval`` seconds until ``stop``."""

    def __init__(self, url: str, executor_id: str, interval: float) -> None:
        self.engine = connect(url)
        self.executor_id = executor_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batchcook-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        beat(self.engine, self.executor_id)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                beat(self.engine, self.executor_id)
            except Exception as err:  # the database may blip; the next beat retries
                log.warning("heartbeat failed: %s", err)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.interval + 1)
        self.engine.dispose()
