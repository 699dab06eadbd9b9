"""Has an earlier run of this step already started? One row per key in the shared database.

A step that creates batches must not create them twice when it runs again after a crash
(its effect happened, its checkpoint did not). Listing the account to look for them is
safe but costs a page per 100 recent batches — with 1,000 jobs starting together that is
ten calls per job. So the step first claims a mark: the first run of the step gets it and
skips the search; only a re-run, which finds the mark taken, searches.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Column, Float, MetaData, String, Table, and_, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from batchcook.workflows.executors import shared

metadata = MetaData()
marks = Table(
    "batchcook_marks",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("created_at", Float, nullable=False),
)


def _engine(url: str) -> Engine:
    return shared(url, metadata)


def claim(url: str, key: str) -> bool:
    """True the first time ``key`` is claimed, False ever after."""
    try:
        with _engine(url).begin() as conn:
            conn.execute(marks.insert().values(key=key, created_at=time.time()))
        return True
    except IntegrityError:
        return False


async def claim_async(url: str, key: str) -> bool:
    return await asyncio.to_thread(claim, url, key)


def forget_older_than(url: str, seconds: float) -> int:
    """Marks outlive their step only to answer a re-run; after the batch window, none comes."""
    with _engine(url).begin() as conn:
        done = conn.execute(delete(marks).where(marks.c.created_at < time.time() - seconds))
        return done.rowcount or 0


def any_since(url: str, prefix: str, seconds: float) -> bool:
    """Was a mark starting with ``prefix`` claimed in the last ``seconds``?"""
    query = select(marks.c.key).where(
        and_(marks.c.key.startswith(prefix), marks.c.created_at >= time.time() - seconds)
    )
    with _engine(url).begin() as conn:
        return conn.execute(query.limit(1)).first() is not None
