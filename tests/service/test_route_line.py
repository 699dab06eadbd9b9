"""An image line's base64 is cut from the raw bytes and decoded on its own: what is stored
must be exactly what parsing the whole line gives, and anything unusual takes that path."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from batchcook.generation.batch.runner import parse_line
from batchcook.workflows import parts

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(30_000)
B64 = base64.b64encode(PNG).decode()


def _line(body: dict[str, Any], status: int = 200, **dumps: Any) -> bytes:
    record = {
        "id": "req_1",
        "custom_id": "job1-image",
        "response": {"status_code": status, "request_id": "r", "body": body},
        "error": None,
    }
    return json.dumps(record, **dumps).encode()


def _image(b64: str = B64, **extra: Any) -> dict[str, Any]:
    return {"created": 1, "data": [{"b64_json": b64, **extra}], "usage": {"total_tokens": 3}}


def _plain(raw: bytes) -> parts.Routed:
    return parts.routed(parse_line(raw, "batch_1"))


@pytest.mark.parametrize(
    "raw",
    [
        _line(_image()),  # as OpenAI writes it
        _line(_image(), separators=(",", ":")),  # compact
        _line(_image(), indent=None, separators=(" , ", " :  ")),  # spaces around the colon
        _line(_image(revised_prompt='a "quoted" b64_json: "x"')),  # the key inside text
        _line({"created": 1, "data": [{"b64_json": B64}, {"b64_json": B64}]}),  # two images
    ],
    ids=["openai", "compact", "spaced", "key-in-text", "two-images"],
)
def test_an_image_line_is_stored_as_the_whole_parse_stores_it(raw: bytes) -> None:
    assert parts._image_span(raw) is not None  # the fast path is taken
    fast = parts.route_line(raw, "batch_1")
    assert fast == _plain(raw)
    assert fast.payload == PNG and fast.ok
    assert parts.unpack(fast.text, fast.payload)["body"] == json.loads(raw)["response"]["body"]


@pytest.mark.parametrize(
    "raw",
    [
        _line(_image(), ensure_ascii=True).replace(b"/", b"\\/"),  # an escaped slash
        _line(_image(B64[:5000] + "!!" + B64[5002:])),  # not base64
        _line(_image("aGVsbG8=")),  # too short to be worth it
        _line({"error": {"message": "no", "code": "x", "b64_json": B64}}, status=400),
        _line({"id": "resp", "output": [], "note": "b64_json"}),  # a text answer
        _line({"data": [{"url": "https://x"}], "b64_json": B64}),  # the key outside data[0]
        b'{"custom_id": "job1-image", "response": {"body": {"data": [{"b64_json": "' + b"A" * 9000,
    ],
    ids=["escaped", "not-base64", "short", "error", "text", "elsewhere", "cut-off"],
)
def test_anything_unusual_is_stored_as_the_whole_parse_stores_it(raw: bytes) -> None:
    assert parts.route_line(raw, "batch_1") == _plain(raw)


def test_the_escaped_line_still_gives_the_image() -> None:
    raw = _line(_image()).replace(b"/", b"\\/")
    assert parts._image_span(raw) is None
    assert parts.route_line(raw, "batch_1").payload == PNG


def test_a_line_is_found_by_batch_and_custom_id_not_by_scanning_its_batch(tmp_path: Any) -> None:
    """SQLite without statistics searched every part of the batch for each line (batch_id was
    the only index it could use): routing a 50,000-line batch was quadratic."""
    from sqlalchemy import and_, select, text

    url = f"sqlite:///{tmp_path / 'parts.sqlite3'}"
    query = select(parts.parts.c.custom_id).where(
        and_(parts.parts.c.batch_id == "b", parts.parts.c.custom_id == "c")
    )
    with parts._engine(url).begin() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row) for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    assert "batch_id=? AND custom_id=?" in plan, plan


def test_a_parts_table_from_before_the_index_gets_it(tmp_path: Any) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the table as an earlier version made it
        db.execute(
            "CREATE TABLE batchcook_parts (custom_id VARCHAR(300), attempt INTEGER, "
            "job_id VARCHAR(200), role VARCHAR(40), endpoint VARCHAR(100), model VARCHAR(100),"
            " tier VARCHAR(20), body TEXT, state VARCHAR(20), round_id VARCHAR(300), "
            "batch_id VARCHAR(100), created_at FLOAT, ok BOOLEAN, result TEXT, payload BLOB, "
            "PRIMARY KEY (custom_id, attempt))"
        )
    parts._engine(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert parts.by_line.name in names
