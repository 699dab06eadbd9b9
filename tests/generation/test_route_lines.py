"""Reading a result file in slices: lines split anywhere across chunks, memory held to a slice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from batchcook.generation.batch import Failure, Result, Success
from batchcook.generation.batch.runner import route_lines


def _line(custom_id: str, status: int = 200) -> bytes:
    body: dict[str, Any] = {"ok": custom_id} if status == 200 else {"error": {"message": "no"}}
    record = {"custom_id": custom_id, "response": {"status_code": status, "body": body}}
    return json.dumps(record).encode() + b"\n"


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_lines_cut_anywhere_arrive_whole_in_bounded_slices() -> None:
    data = b"".join(_line(f"c{i}", 200 if i % 7 else 400) for i in range(50))
    data += b"\n  \n" + b'{"custom_id": "broken", "respo'  # blank lines; a cut-off last line
    for chunk in (1, 3, 64, 10_000):
        slices: list[list[Result]] = []

        async def sink(results: list[Result], into: list[list[Result]] = slices) -> None:
            into.append(list(results))

        count = await route_lines(_chunks(data, chunk), "batch_x", sink, size=8)
        got = [r for s in slices for r in s]
        assert count == len(got) == 51
        assert max(len(s) for s in slices) <= 8
        assert [r.custom_id for r in got[:50]] == [f"c{i}" for i in range(50)]
        assert all(isinstance(r, Success) == bool(i % 7) for i, r in enumerate(got[:50]))
        assert isinstance(got[50], Failure) and got[50].kind == "malformed"
        assert got[50].custom_id == "broken"


async def test_a_slice_is_also_cut_by_bytes() -> None:
    data = b"".join(_line(f"c{i}") for i in range(10))
    sizes: list[int] = []

    async def sink(results: list[Result]) -> None:
        sizes.append(len(results))

    await route_lines(
        _chunks(data, 1 << 20), "batch_x", sink, size=100, max_bytes=3 * (len(_line("c0")) - 1)
    )
    assert sizes == [3, 3, 3, 1]
