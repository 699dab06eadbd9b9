"""The cause decides whether a step is worth running again (``batchcook.transient``)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import httpx
import openai
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from batchcook.generation.errors import BatchCreationError, IncompleteResponseError
from batchcook.stores.notion.errors import NotionAPIError
from batchcook.transient import is_transient

REQUEST = httpx.Request("POST", "https://api.openai.com/v1/batches")


def _status(code: int) -> openai.APIStatusError:
    response = httpx.Response(code, request=REQUEST, json={"error": {"message": "x"}})
    return openai.APIStatusError("x", response=response, body=None)


def _notion(status: int) -> NotionAPIError:
    return NotionAPIError("x", status=status, code="c", notion_message="m")


@pytest.mark.parametrize(
    "err",
    [
        _status(429),
        _status(500),
        _status(503),
        openai.APITimeoutError(request=REQUEST),
        httpx.RemoteProtocolError("peer closed connection without sending complete body"),
        sqlite3.OperationalError("database is locked"),
        OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked")),
        # Seen failing 2 of 2,000 jobs in bench/load.py: the shared engine's pool was busy.
        PoolTimeout("QueuePool limit of size 1 overflow 2 reached, connection timed out"),
        BatchCreationError("creating the batch failed", _status(429)),
        _notion(529),
        _notion(0),
    ],
)
def test_passing_causes(err: BaseException) -> None:
    assert is_transient(err)


@pytest.mark.parametrize(
    "err",
    [
        _status(400),
        _status(404),
        sqlite3.OperationalError("no such table: jobs"),
        BatchCreationError("creating the batch failed", _status(400)),
        IncompleteResponseError("job-data", "max_output_tokens"),  # retryable means "resubmit"
        _notion(400),
        ValueError("bad recipe"),
    ],
)
def test_lasting_causes(err: BaseException) -> None:
    assert not is_transient(err)


def test_a_cause_raised_from_is_followed() -> None:
    try:
        try:
            raise sqlite3.OperationalError("database is locked")
        except sqlite3.OperationalError as inner:
            raise RuntimeError("marking the step failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)


@pytest.mark.parametrize(
    "module",
    ["batchcook.generation.errors", "batchcook.generation.batch", "batchcook.transient"],
)
def test_library_modules_import_on_their_own(module: str) -> None:
    """A library user's first import may be any module (errors.py once failed alone: a cycle
    through the batch toolkit)."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-500:]
