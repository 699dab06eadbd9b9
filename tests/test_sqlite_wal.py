"""The embedded SQLite system database runs in WAL mode: a reader (a sleeping job looking at
its parts, a scrape, `batchcook jobs`) never blocks the writer (every workflow step)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from batchcook.workflows import executors


def _writer_while_reading(path: Path) -> None:
    """Commit a write while another connection sits inside a read transaction."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
        with contextlib.closing(sqlite3.connect(path, timeout=0.2)) as writer:
            writer.execute("INSERT INTO t VALUES (1)")
            writer.commit()
        reader.execute("COMMIT")


def _table(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.commit()


def test_a_sqlite_system_database_is_put_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "data" / "batchcook.sqlite"  # its folder does not exist yet
    executors.use_wal(f"sqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    _table(path)
    _writer_while_reading(path)  # would raise "database is locked" in the default mode


def test_without_wal_a_reader_blocks_the_writer(tmp_path: Path) -> None:
    """The failure the mode prevents, so the test above can be seen to mean something."""
    path = tmp_path / "plain.sqlite"
    _table(path)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _writer_while_reading(path)


def test_postgres_urls_are_left_alone() -> None:
    executors.use_wal("postgresql://postgres@127.0.0.1:5432/nothing_to_touch")
