"""Turning requests into batch input files: one endpoint and one model per file, within limits.

Everything the Batch API would refuse for the whole file is refused here first, locally and
with a clear message, because a refused file costs a round trip and shows up only as a
``failed`` batch minutes later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_LINES = 50_000
MAX_BYTES = 200_000_000  # "200 MB"; decimal, to stay under whichever the API means


@dataclass(frozen=True)
class BatchRequest:
    """One request: ``url`` = ``endpoint``; ``body`` exactly as the sync endpoint takes it."""

    custom_id: str
    endpoint: str
    body: dict[str, Any]

    def line(self) -> bytes:
        record = {
            "custom_id": self.custom_id,
            "method": "POST",
            "url": self.endpoint,
            "body": self.body,
        }
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


@dataclass
class Chunk:
    """The contents of one input file, and so of one batch."""

    endpoint: str
    model: str
    custom_ids: list[str] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    size: int = 0

    def data(self) -> bytes:
        return b"".join(self.lines)


def _check(requests: Iterable[BatchRequest]) -> Iterator[BatchRequest]:
    seen: set[str] = set()
    for r in requests:
        if not r.custom_id:
            raise ValueError("every request needs a non-empty custom_id")
        if r.custom_id in seen:
            raise ValueError(f"custom_id {r.custom_id!r} appears twice; they must be unique")
        seen.add(r.custom_id)
        if not isinstance(r.body.get("model"), str):
            raise ValueError(f"request {r.custom_id!r} has no model in its body")
        if r.body.get("stream"):
            raise ValueError(f"request {r.custom_id!r} asks to stream; batches cannot stream")
        yield r


def plan_chunks(
    requests: Iterable[BatchRequest], *, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES
) -> list[Chunk]:
    """Group per (endpoint, model), then split so no file exceeds ``max_lines``/``max_bytes``."""
    open_chunks: dict[tuple[str, str], Chunk] = {}
    done: list[Chunk] = []
    for r in _check(requests):
        key = (r.endpoint, r.body["model"])
        line = r.line()
        if len(line) > max_bytes:
            raise ValueError(
                f"request {r.custom_id!r} alone is {len(line):,} bytes, over the "
                f"{max_bytes:,}-byte batch file limit"
            )
        chunk = open_chunks.get(key)
        if chunk is not None and (
            len(chunk.lines) >= max_lines or chunk.size + len(line) > max_bytes
        ):
            done.append(chunk)
            chunk = None
        if chunk is None:
            chunk = open_chunks[key] = Chunk(endpoint=r.endpoint, model=r.body["model"])
        chunk.custom_ids.append(r.custom_id)
        chunk.lines.append(line)
        chunk.size += len(line)
    return done + list(open_chunks.values())
