"""This installation's id, kept in the system database and written on every batch.

Two installs on one OpenAI project (a laptop and a server, say) see each other's batches in
``GET /v1/batches``. The sweep cancels orphans and deletes leftover files, so it must only
ever touch batches that carry *our* install id: a batch with another id, or none (made by an
older version), is never cancelled or cleaned up automatically. The id is made once per
system database (every worker on it shares it) and can be set with BATCHCOOK_INSTALL_ID.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from batchcook.config import Settings
from batchcook.workflows.executors import connect

metadata = MetaData()
install = Table(
    "batchcook_install",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("value", String(100), nullable=False),
)


@lru_cache(maxsize=8)
def _stored(url: str) -> str:
    engine = connect(url, metadata)
    try:
        query = select(install.c.value).where(install.c.name == "id")
        with engine.begin() as conn:
            found = conn.execute(query).scalar()
        if found:
            return str(found)
        try:
            with engine.begin() as conn:
                conn.execute(
                    install.insert().values(name="id", value=f"bc-{uuid.uuid4().hex[:16]}")
                )
        except IntegrityError:
            pass  # another process made it first: read theirs
        with engine.begin() as conn:
            return str(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def install_id(settings: Settings) -> str:
    """BATCHCOOK_INSTALL_ID, else the id stored in the system database (made on first use)."""
    return settings.install_id or _stored(settings.database())
