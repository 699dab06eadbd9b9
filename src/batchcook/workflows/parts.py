"""The parts table: every batch request of every job, from waiting to its stored result.

Jobs do not own batches any more. A job writes its batch parts here and sleeps; a collector
round claims every waiting part (of all jobs, from all processes), submits them as shared
batches, and routes each output line back to its part by ``(batch_id, custom_id)``. The
result is stored here, once — an image as raw bytes, not base64 in a workflow checkpoint —
so the system database does not grow by megabytes per recipe, and any worker can write any
job's page. A job's rows are deleted when it succeeds; a failed job's rows stay (a retry
reuses what was paid for) until ``forget_older_than`` after the batch window.

States: ``waiting`` (written by the job) → ``claimed`` (by a round) → ``submitted`` (in a
batch) → ``done`` (result stored); or ``abandoned`` (the job gave up on it: timeout, cancel).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson
import pybase64
from openai.types import Batch
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from batchcook.generation.batch.jsonl import BatchRequest
from batchcook.generation.batch.results import Result, Success, encode
from batchcook.generation.batch.runner import parse_line
from batchcook.workflows.executors import shared

metadata = MetaData()
parts = Table(
    "batchcook_parts",
    metadata,
    Column("custom_id", String(300), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("job_id", String(200), nullable=False, index=True),
    Column("role", String(40), nullable=False),
    Column("endpoint", String(100), nullable=False),
    Column("model", String(100), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("body", Text, nullable=False),  # the request body, JSON
    Column("state", String(20), nullable=False, index=True),
    Column("round_id", String(300), nullable=True, index=True),
    Column("batch_id", String(100), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("ok", Boolean, nullable=True),
    Column("result", Text, nullable=True),  # the encoded result, JSON, images left out
    Column("payload", LargeBinary, nullable=True),  # the image's bytes
)
# A result line is stored by (batch_id, custom_id). With batch_id alone indexed, SQLite (no
# statistics) searched every part of the batch for each line: quadratic in the batch size.
by_line = Index("ix_batchcook_parts_batch_line", parts.c.batch_id, parts.c.custom_id)
batches = Table(
    "batchcook_batches",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("round_id", String(300), nullable=False, index=True),
    Column("endpoint", String(100), nullable=False),
    Column("model", String(100), nullable=False),
    Column("input_file_id", String(100), nullable=False),
    Column("group_key", String(100), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("completed", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("routed", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("polled_at", Float, nullable=True),  # when a follower last read it from OpenAI
)
plans = Table(
    "batchcook_plans",
    metadata,
    # The request bodies a job planned, kept here rather than in its plan step's checkpoint:
    # a checkpoint stays in the system database after the job ends, these rows do not.
    Column("custom_id", String(300), primary_key=True),
    Column("job_id", String(200), nullable=False, index=True),
    Column("body", Text, nullable=False),  # JSON
    Column("created_at", Float, nullable=False),
)
OPEN = ("waiting", "claimed", "submitted")


def _engine(url: str) -> Engine:
    return shared(url, metadata)


# --- results: images kept as bytes ---------------------------------------------------------


def pack(encoded: dict[str, Any]) -> tuple[str, bytes | None]:
    """An encoded result as (JSON, payload): a successful image's base64 leaves the JSON and
    is stored decoded — a third smaller, and never parsed again as text."""
    body = encoded.get("body")
    if encoded.get("ok") and isinstance(body, dict):
        try:
            first = body["data"][0]
            raw = pybase64.b64decode(first["b64_json"], validate=True)
        except (KeyError, IndexError, TypeError, ValueError):  # binascii.Error is one
            raw = None
        if raw is not None:
            return _slim(encoded, body), raw
    return orjson.dumps(encoded).decode(), None


def _slim(encoded: dict[str, Any], body: dict[str, Any]) -> str:
    data = [{**body["data"][0], "b64_json": None}, *body["data"][1:]]
    return orjson.dumps({**encoded, "body": {**body, "data": data}}).decode()


def unpack(text: str, payload: bytes | None) -> dict[str, Any]:
    encoded: dict[str, Any] = orjson.loads(text)
    if payload is not None:
        encoded["body"]["data"][0]["b64_json"] = pybase64.b64encode(payload).decode()
    return encoded


class Routed(NamedTuple):
    """One output line as stored: its JSON (an image's base64 taken out) and the image."""

    custom_id: str
    ok: bool
    text: str
    payload: bytes | None


def routed(result: Result) -> Routed:
    text, raw = pack(encode(result))
    return Routed(result.custom_id, result.ok, text, raw)


_B64_KEY = b'"b64_json"'
_CUT = b"\\u0000"  # what stands in for the cut base64 while the rest is parsed: "\x00"
_WORTH_CUTTING = 4096


def route_line(raw: bytes, batch_id: str) -> Routed:
    """An output line straight to what is stored. An image line's base64 (~1.5 MB of a line
    a few hundred bytes long otherwise) is cut out of the raw bytes and decoded on its own:
    parsing it into a str only to decode that str would cost more than the whole JSON parse
    (see bench/route_results.py). Anything unexpected takes the plain path, same result."""
    span = _image_span(raw)
    if span is not None:
        start, end = span
        result = parse_line(raw[:start] + _CUT + raw[end:], batch_id)
        if isinstance(result, Success) and _was_cut(result.body):
            try:
                with memoryview(raw) as view:
                    image = pybase64.b64decode(view[start:end], validate=True)
            except ValueError:  # not base64 after all: stored as it came, like pack does
                pass
            else:
                return Routed(result.custom_id, True, _slim(encode(result), result.body), image)
    return routed(parse_line(raw, batch_id))


def _was_cut(body: dict[str, Any]) -> bool:
    data = body.get("data")
    first = data[0] if isinstance(data, list) and data else None
    return isinstance(first, dict) and first.get("b64_json") == "\x00"


def _image_span(raw: bytes) -> tuple[int, int] | None:
    """Where the first ``"b64_json": "…"`` value lies in a line, if it is long and plain
    (a JSON string holding a quote or a backslash is left to the parser). Quotes inside a
    JSON string are escaped, so the key found here is a key, not text."""
    at = raw.find(_B64_KEY)
    if at < 0:
        return None
    at += len(_B64_KEY)
    head = raw[at : at + 64]
    rest = head.lstrip()
    if not rest.startswith(b":") or not rest[1:].lstrip().startswith(b'"'):
        return None
    start = at + head.index(b'"') + 1
    end = raw.find(b'"', start)
    if end - start < _WORTH_CUTTING or raw.find(b"\\", start, end) >= 0:
        return None
    return start, end


# --- the job's side ------------------------------------------------------------------------


def save_plan(url: str, job_id: str, planned: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the planned request bodies in the plans table; returns the parts without them
    (what the plan step checkpoints). A re-run of the step plans anew and overwrites: nothing
    has used the earlier bodies, since the step's output is what hands them on."""
    at = time.time()
    with _engine(url).begin() as conn:
        ids = [p["custom_id"] for p in planned]
        conn.execute(delete(plans).where(plans.c.custom_id.in_(ids)))
        for part in planned:
            conn.execute(
                plans.insert().values(
                    custom_id=part["custom_id"],
                    job_id=job_id,
                    body=json.dumps(part["body"], ensure_ascii=False),
                    created_at=at,
                )
            )
    return [{k: v for k, v in p.items() if k != "body"} for p in planned]


def with_bodies(url: str, planned: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``planned`` with each part's request body, from the plans table (a part that carries
    its body already — checkpointed before the plans table existed — keeps it)."""
    wanted = [p["custom_id"] for p in planned if "body" not in p]
    if not wanted:
        return planned
    with _engine(url).begin() as conn:
        rows = conn.execute(
            select(plans.c.custom_id, plans.c.body).where(plans.c.custom_id.in_(wanted))
        ).all()
    bodies = {r.custom_id: json.loads(r.body) for r in rows}
    missing = sorted(set(wanted) - set(bodies))
    if missing:
        raise LookupError(f"planned request bodies not found for {', '.join(missing)}")
    return [p if "body" in p else {**p, "body": bodies[p["custom_id"]]} for p in planned]


def enqueue(url: str, job_id: str, planned: list[dict[str, Any]], attempt: int) -> None:
    """Write the job's parts for ``attempt`` (a re-run finds them written: nothing twice)."""
    at = time.time()
    planned = with_bodies(url, planned)
    with _engine(url).begin() as conn:
        for part in planned:
            key = and_(parts.c.custom_id == part["custom_id"], parts.c.attempt == attempt)
            if conn.execute(select(parts.c.state).where(key)).first() is not None:
                continue
            try:
                with conn.begin_nested():
                    conn.execute(
                        parts.insert().values(
                            custom_id=part["custom_id"],
                            attempt=attempt,
                            job_id=job_id,
                            role=part["role"],
                            endpoint=part["endpoint"],
                            model=part["model"],
                            tier=part["tier"],
                            body=json.dumps(part["body"], ensure_ascii=False),
                            state="waiting",
                            created_at=at,
                        )
                    )
            except IntegrityError:  # another run of this step wrote it first
                pass


def view(url: str, job_id: str) -> dict[str, Any]:
    """What a job's parts and their batches are doing: for its record and its decisions."""
    with _engine(url).begin() as conn:
        rows = conn.execute(
            select(
                parts.c.custom_id,
                parts.c.attempt,
                parts.c.state,
                parts.c.batch_id,
                parts.c.ok,
                parts.c.created_at,
            ).where(parts.c.job_id == job_id)
        ).all()
        ids = sorted({r.batch_id for r in rows if r.batch_id})
        found = conn.execute(select(batches).where(batches.c.id.in_(ids))).all() if ids else []
    attempt_of = {r.batch_id: r.attempt for r in rows if r.batch_id}
    return {
        "parts": [
            {
                "custom_id": r.custom_id,
                "attempt": r.attempt,
                "state": r.state,
                "batch_id": r.batch_id,
                "ok": r.ok,
                "created_at": r.created_at,
            }
            for r in rows
        ],
        "batches": [
            {**_row_state(b), "attempt": attempt_of.get(b.id, 0)}
            for b in sorted(found, key=lambda b: (b.created_at, b.id))
        ],
        "at": time.time(),
    }


def results(url: str, job_id: str) -> dict[str, dict[str, Any]]:
    """The job's stored results, one per custom id: a success over a failure, the latest
    attempt over an earlier one."""
    with _engine(url).begin() as conn:
        rows = conn.execute(
            select(parts.c.custom_id, parts.c.attempt, parts.c.ok, parts.c.result, parts.c.payload)
            .where(and_(parts.c.job_id == job_id, parts.c.result.is_not(None)))
            .order_by(parts.c.attempt)
        ).all()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if out.get(r.custom_id, {}).get("ok") and not r.ok:
            continue
        out[r.custom_id] = {**unpack(r.result, r.payload), "attempt": r.attempt}
    return out


def outcomes(url: str, job_id: str, attempt: int) -> dict[str, dict[str, Any]]:
    """Small: custom id -> ok / retryable of one attempt's finished parts (no bodies)."""
    with _engine(url).begin() as conn:
        rows = conn.execute(
            select(parts.c.custom_id, parts.c.ok, parts.c.result).where(
                and_(
                    parts.c.job_id == job_id,
                    parts.c.attempt == attempt,
                    parts.c.state == "done",
                )
            )
        ).all()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        retryable = False
        if not r.ok and r.result:
            retryable = bool(json.loads(r.result).get("retryable"))
        out[r.custom_id] = {"ok": bool(r.ok), "retryable": retryable}
    return out


def payload(url: str, custom_id: str, attempt: int) -> bytes | None:
    with _engine(url).begin() as conn:
        row = conn.execute(
            select(parts.c.payload).where(
                and_(parts.c.custom_id == custom_id, parts.c.attempt == attempt)
            )
        ).first()
    return None if row is None else row.payload


def store(url: str, job_id: str, encoded: dict[str, Any], attempt: int, tier: str) -> None:
    """A result got outside a batch (a direct call, a reused one): stored like the others."""
    text, raw = pack(encoded)
    with _engine(url).begin() as conn:
        key = and_(parts.c.custom_id == encoded["custom_id"], parts.c.attempt == attempt)
        values = {"state": "done", "ok": bool(encoded["ok"]), "result": text, "payload": raw}
        if conn.execute(select(parts.c.state).where(key)).first() is not None:
            conn.execute(update(parts).where(key).values(**values))
            return
        conn.execute(
            parts.insert().values(
                custom_id=encoded["custom_id"],
                attempt=attempt,
                job_id=job_id,
                role="",
                endpoint="",
                model="",
                tier=tier,
                body="{}",
                created_at=time.time(),
                **values,
            )
        )


def abandon(url: str, job_id: str) -> list[str]:
    """The job no longer wants its open parts; returns the batches they were in (a batch
    whose every part is abandoned is cancelled by its follower)."""
    with _engine(url).begin() as conn:
        open_parts = and_(parts.c.job_id == job_id, parts.c.state.in_(OPEN))
        ids = conn.execute(select(parts.c.batch_id).where(open_parts)).all()
        conn.execute(update(parts).where(open_parts).values(state="abandoned"))
    return sorted({r.batch_id for r in ids if r.batch_id})


def forget(url: str, job_id: str) -> int:
    """The job is done with its results (its page is written)."""
    with _engine(url).begin() as conn:
        gone = conn.execute(delete(parts).where(parts.c.job_id == job_id))
        conn.execute(delete(plans).where(plans.c.job_id == job_id))
        return gone.rowcount or 0


def forget_older_than(url: str, seconds: float) -> int:
    """Rows of failed jobs nobody retried, and routed batches, past the window."""
    cutoff = time.time() - seconds
    with _engine(url).begin() as conn:
        gone = conn.execute(
            delete(parts).where(
                and_(parts.c.created_at < cutoff, parts.c.state.in_(("done", "abandoned")))
            )
        )
        conn.execute(delete(batches).where(and_(batches.c.created_at < cutoff, batches.c.routed)))
        # Plans of jobs that ended without success, once none of their parts is left.
        conn.execute(
            delete(plans).where(
                and_(
                    plans.c.created_at < cutoff,
                    ~select(parts.c.custom_id).where(parts.c.job_id == plans.c.job_id).exists(),
                )
            )
        )
        return gone.rowcount or 0


# --- the collector's side ------------------------------------------------------------------


def newest_waiting(url: str) -> float | None:
    """When the newest waiting part was written (a round gathers on while they arrive)."""
    with _engine(url).begin() as conn:
        newest = conn.execute(
            select(func.max(parts.c.created_at)).where(parts.c.state == "waiting")
        ).scalar()
    return None if newest is None else float(newest)


def claim(url: str, round_id: str) -> int:
    """Take every waiting part for ``round_id``; a re-run takes those and any new ones."""
    with _engine(url).begin() as conn:
        conn.execute(
            update(parts)
            .where(parts.c.state == "waiting")
            .values(state="claimed", round_id=round_id)
        )
        rows = conn.execute(
            select(parts.c.custom_id).where(
                and_(parts.c.round_id == round_id, parts.c.state == "claimed")
            )
        ).all()
    return len(rows)


def claimed(url: str, round_id: str) -> list[tuple[tuple[str, int], BatchRequest]]:
    """The round's parts not yet in a batch, as requests (oldest first)."""
    with _engine(url).begin() as conn:
        rows = conn.execute(
            select(parts.c.custom_id, parts.c.attempt, parts.c.endpoint, parts.c.body)
            .where(and_(parts.c.round_id == round_id, parts.c.state == "claimed"))
            .order_by(parts.c.created_at, parts.c.custom_id)
        ).all()
    return [
        ((r.custom_id, r.attempt), BatchRequest(r.custom_id, r.endpoint, json.loads(r.body)))
        for r in rows
    ]


def record_batch(
    url: str,
    round_id: str,
    batch: dict[str, Any],
    keys: Iterable[tuple[str, int]],
) -> None:
    """The batch exists: its parts say so (so their jobs can show it, and results route)."""
    with _engine(url).begin() as conn:
        if conn.execute(select(batches.c.id).where(batches.c.id == batch["id"])).first() is None:
            conn.execute(
                batches.insert().values(
                    id=batch["id"],
                    round_id=round_id,
                    endpoint=batch["endpoint"],
                    model=batch["model"],
                    input_file_id=batch["input_file_id"],
                    group_key=batch["group"],
                    status="validating",
                    completed=0,
                    failed=0,
                    total=len(batch["custom_ids"]),
                    routed=False,
                    created_at=time.time(),
                )
            )
        for custom_id, attempt in keys:
            conn.execute(
                update(parts)
                .where(
                    and_(
                        parts.c.custom_id == custom_id,
                        parts.c.attempt == attempt,
                        parts.c.state == "claimed",
                    )
                )
                .values(state="submitted", batch_id=batch["id"])
            )


def fail_claimed(url: str, round_id: str, encoded: dict[str, Any]) -> list[str]:
    """The round could not submit: each claimed part ends with ``encoded``'s error (its job
    decides to retry); returns the jobs to wake."""
    with _engine(url).begin() as conn:
        rows = conn.execute(
            select(parts.c.custom_id, parts.c.attempt, parts.c.job_id).where(
                and_(parts.c.round_id == round_id, parts.c.state == "claimed")
            )
        ).all()
        for r in rows:
            text = json.dumps({**encoded, "custom_id": r.custom_id})
            conn.execute(
                update(parts)
                .where(and_(parts.c.custom_id == r.custom_id, parts.c.attempt == r.attempt))
                .values(state="done", ok=False, result=text, payload=None)
            )
    return sorted({r.job_id for r in rows})


def state_of(batch: Batch) -> dict[str, Any]:
    """What the batches table keeps of a batch OpenAI showed."""
    counts = batch.request_counts
    return {
        "id": batch.id,
        "endpoint": batch.endpoint,
        "status": batch.status,
        "completed": counts.completed if counts else 0,
        "failed": counts.failed if counts else 0,
        "total": counts.total if counts else 0,
    }


def fresh_states(url: str, batch_ids: list[str], since: float) -> list[dict[str, Any]] | None:
    """The states of ``batch_ids`` if every one was read from OpenAI (by any process) at or
    after ``since``; else None. A process's follower then needs no call of its own: with
    several workers, rounds run in different processes, and one list page read by any of
    them shows every round's batches."""
    if not batch_ids:
        return None
    with _engine(url).begin() as conn:
        rows = conn.execute(select(batches).where(batches.c.id.in_(batch_ids))).all()
    found = {r.id: r for r in rows if r.polled_at is not None and r.polled_at >= since}
    if len(found) < len(set(batch_ids)):
        return None
    return [_row_state(found[b]) for b in batch_ids]


def _row_state(row: Any) -> dict[str, Any]:
    """A batches-table row as ``state_of`` gives a batch."""
    return {
        "id": row.id,
        "endpoint": row.endpoint,
        "status": row.status,
        "completed": row.completed,
        "failed": row.failed,
        "total": row.total,
    }


def update_batches(url: str, states: Iterable[dict[str, Any]]) -> None:
    with _engine(url).begin() as conn:
        for s in states:
            conn.execute(
                update(batches)
                .where(batches.c.id == s["id"])
                .values(
                    status=s["status"],
                    completed=s["completed"],
                    failed=s["failed"],
                    total=s["total"] or batches.c.total,
                    polled_at=time.time(),
                )
            )


def route(url: str, batch_id: str, lines: Iterable[Routed]) -> int:
    """Store results read from a batch's files on their parts, by custom id within the
    batch (one transaction for the lot given: the caller streams in slices)."""
    rows = [
        {"line_id": r.custom_id, "line_ok": r.ok, "line_text": r.text, "line_payload": r.payload}
        for r in lines
    ]
    if not rows:
        return 0
    statement = (
        update(parts)
        .where(
            and_(
                parts.c.batch_id == batch_id,
                parts.c.custom_id == bindparam("line_id"),
                or_(parts.c.state == "submitted", parts.c.state == "done"),  # not an IN: many
            )
        )
        .values(
            state="done",
            ok=bindparam("line_ok"),
            result=bindparam("line_text"),
            payload=bindparam("line_payload"),
        )
    )
    with _engine(url).begin() as conn:
        done = conn.execute(statement, rows)
    return max(done.rowcount or 0, 0)


def unrouted(url: str, batch_id: str) -> list[str]:
    """Parts of an ended batch that no line answered."""
    with _engine(url).begin() as conn:
        rows = conn.execute(
            select(parts.c.custom_id).where(
                and_(parts.c.batch_id == batch_id, parts.c.state == "submitted")
            )
        ).all()
    return [r.custom_id for r in rows]


def finish_batch(url: str, batch_id: str) -> list[str]:
    """Every part of the batch has its result: mark it routed; returns the jobs to wake."""
    with _engine(url).begin() as conn:
        conn.execute(update(batches).where(batches.c.id == batch_id).values(routed=True))
        rows = conn.execute(
            select(parts.c.job_id).where(parts.c.batch_id == batch_id).distinct()
        ).all()
    return sorted(r.job_id for r in rows)


def round_of_batch(url: str, batch_id: str) -> str | None:
    """The collector round that made ``batch_id``, if it is one of ours still on record."""
    with _engine(url).begin() as conn:
        row = conn.execute(select(batches.c.round_id).where(batches.c.id == batch_id)).first()
    return None if row is None else str(row.round_id)


def jobs_of(url: str, batch_id: str) -> list[str]:
    with _engine(url).begin() as conn:
        rows = conn.execute(
            select(parts.c.job_id)
            .where(and_(parts.c.batch_id == batch_id, parts.c.state != "abandoned"))
            .distinct()
        ).all()
    return sorted(r.job_id for r in rows)


def unwanted(url: str, batch_ids: Iterable[str]) -> list[str]:
    """Of ``batch_ids``, those no job wants any more (every part abandoned): cancel them."""
    out: list[str] = []
    with _engine(url).begin() as conn:
        for batch_id in batch_ids:
            states = {
                r.state
                for r in conn.execute(
                    select(parts.c.state).where(parts.c.batch_id == batch_id)
                ).all()
            }
            if states == {"abandoned"}:
                out.append(batch_id)
    return out


def surplus(url: str, batch_id: str, group: str, round_id: str) -> bool:
    """Is ``batch_id`` a second batch for a slice of parts another batch of the same round
    already holds? (A submit that crashed with a create in flight, whose re-run made its
    own.) Only within the round: a retried line rides a later round under the same custom
    id, so a retry's slice can hash to the same group as the batch it failed in. A batch
    being created right now has no recorded sibling, so it is never taken for one."""
    with _engine(url).begin() as conn:
        row = conn.execute(
            select(batches.c.id).where(
                and_(
                    batches.c.group_key == group,
                    batches.c.round_id == round_id,
                    batches.c.id != batch_id,
                )
            )
        ).first()
    return row is not None


def round_state(url: str, round_id: str) -> dict[str, Any]:
    """The round's batches, and the jobs whose parts it holds."""
    with _engine(url).begin() as conn:
        rows = conn.execute(select(batches).where(batches.c.round_id == round_id)).all()
        jobs = conn.execute(
            select(parts.c.job_id).where(parts.c.round_id == round_id).distinct()
        ).all()
    return {
        "batches": [{"id": r.id, "endpoint": r.endpoint} for r in rows],
        "jobs": sorted(j.job_id for j in jobs),
    }


def followed(url: str, within: float, among: list[str] | None = None) -> bool:
    """Has every unfinished batch (``among`` these, if given) been read from OpenAI by its
    follower in the last ``within`` seconds? Then the followers are alive and a sweep need
    not list them."""
    cutoff = time.time() - within
    query = select(batches.c.id).where(
        and_(
            batches.c.routed.is_(False),
            (batches.c.polled_at.is_(None)) | (batches.c.polled_at < cutoff),
            batches.c.created_at < cutoff,  # a batch just made is not polled yet
        )
    )
    if among is not None:
        query = query.where(batches.c.id.in_(among))
    with _engine(url).begin() as conn:
        stale = conn.execute(query).first()
    return stale is None


async def run(fn: Any, *args: Any) -> Any:
    """Any of the above off the event loop."""
    return await asyncio.to_thread(fn, *args)
