"""Routing a batch's output file into stored results: memory and speed against a plain parse.

A shared batch of 1,000 images has an output file of about 1.5 GB (each line a ~1.5 MB
base64 image). The collector streams it (``BatchRunner.stream_results``) through the SDK
and stores each line on its part (``workflows/parts.py``: images decoded to bytes) in a
SQLite parts table. This bench writes such a file, serves it over HTTP as OpenAI's
``GET /v1/files/{id}/content`` would, and measures, each in a fresh process:

- baseline: read the file from disk line by line and ``orjson.loads`` each line;
- from disk: the collector's parsing and storing (``route_lines`` into the parts table),
  fed from the file — what the service adds to a plain parse;
- over HTTP: the same, downloading through the official SDK from a local file server;
- disk floor: the same decoded images appended to a plain file, flushed to disk (fsync) at
  the same points as routing commits — what keeping those bytes durably costs on this
  machine's disk with no database at all, the bound below any way of storing them.

Printed: seconds, MB/s, peak RSS of each, and routed/baseline throughput.

Usage: python bench/route_results.py [--mb 200] [--runs 3]
       python bench/route_results.py --mb 1500      (the 1.5 GB case; needs the disk)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

BATCH_ID = "batch_bench"
FILE_ID = "file-bench"
IMAGE_B64_BYTES = 1_500_000  # one image line's base64, as a 1024x1024 PNG gives


def write_file(path: Path, megabytes: int) -> int:
    """Image lines of ~1.5 MB base64 (a PNG header, then noise), and one text line per ten."""
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(IMAGE_B64_BYTES * 3 // 4 - 8)
    image = base64.b64encode(png).decode()
    lines = 0
    with path.open("w") as out:
        while out.tell() < megabytes * 1_000_000:
            custom_id = f"job{lines}-image"
            body: dict[str, Any] = {
                "created": 1,
                "data": [{"b64_json": image}],
                "usage": {"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210},
            }
            if lines % 10 == 9:
                custom_id = f"job{lines}-data"
                body = {"id": "resp", "object": "response", "output": [], "status": "completed"}
            line = {
                "id": f"req_{lines}",
                "custom_id": custom_id,
                "response": {"status_code": 200, "request_id": "r", "body": body},
                "error": None,
            }
            out.write(json.dumps(line) + "\n")
            lines += 1
    return lines


def serve(path: Path, port: int) -> None:
    """OpenAI's file content endpoint, streaming the file from disk."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Route

    async def content(request: Any) -> FileResponse:
        return FileResponse(path, media_type="application/octet-stream")

    app = Starlette(routes=[Route("/v1/files/{file_id}/content", content)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline(path: Path) -> dict[str, float]:
    import orjson

    started = time.perf_counter()
    count = 0
    with path.open("rb") as lines:
        for raw in lines:
            if raw.strip():
                orjson.loads(raw)
                count += 1
    return {"seconds": time.perf_counter() - started, "lines": count, "peak_mb": peak_mb()}


def route(path: Path, url: str, workdir: Path) -> dict[str, float]:
    """``url`` "disk": the same parsing and storing, fed from the file (no HTTP); "parse":
    from disk, parsed and decoded but not stored; "store": only the storing, the same number
    of images of the same size written by ``parts.route`` in the slices routing uses;
    "floor": those slices appended to a plain file, each flushed to disk."""
    from openai import AsyncOpenAI
    from openai.types import Batch

    from batchcook.generation.batch import BatchRunner
    from batchcook.generation.batch.runner import route_lines
    from batchcook.workflows import parts
    from batchcook.workflows.executors import use_wal

    workdir = Path(tempfile.mkdtemp(dir=workdir))  # a fresh database each run
    database = f"sqlite:///{workdir / 'parts'}.sqlite3"
    ids = []
    with path.open("rb") as lines:  # which parts the file answers (not timed)
        for raw in lines:
            start = raw.index(b'"custom_id": "') + len(b'"custom_id": "')
            ids.append(raw[start : raw.index(b'"', start)].decode())
    use_wal(database)  # as the service puts its system database
    with parts._engine(database).begin() as conn:
        for custom_id in ids:
            conn.execute(
                parts.parts.insert().values(
                    custom_id=custom_id,
                    attempt=0,
                    job_id=custom_id.rsplit("-", 1)[0],
                    role="",
                    endpoint="",
                    model="",
                    tier="batch",
                    body="{}",
                    state="submitted",
                    batch_id=BATCH_ID,
                    created_at=time.time(),
                )
            )
    before = peak_mb()

    async def sink(lines: list[parts.Routed]) -> None:
        if url != "parse":
            await parts.run(parts.route, database, BATCH_ID, lines)

    async def store_only() -> int:
        image = os.urandom(IMAGE_B64_BYTES * 3 // 4)
        text = '{"ok": true, "body": {"data": [{"b64_json": null}]}}'
        per_slice = 4_000_000 // (IMAGE_B64_BYTES + 1000) + 1  # route_lines' max_bytes
        with (workdir / "floor.bin").open("wb") as floor:
            for at in range(0, len(ids), per_slice):
                lines = [parts.Routed(c, True, text, image) for c in ids[at : at + per_slice]]
                if url == "floor":
                    for line in lines:
                        floor.write(line.text.encode())
                        floor.write(line.payload or b"")
                    floor.flush()
                    os.fsync(floor.fileno())
                else:
                    await sink(lines)
        return len(ids)

    async def from_disk() -> AsyncIterator[bytes]:
        with path.open("rb") as data:
            while chunk := data.read(1 << 20):
                yield chunk

    async def run() -> int:
        if url in ("store", "floor"):
            return await store_only()
        if url in ("disk", "parse"):
            return await route_lines(from_disk(), BATCH_ID, sink, parse=parts.route_line)
        async with AsyncOpenAI(api_key="k", base_url=f"{url}/v1") as client:
            runner = BatchRunner(client)
            batch = Batch.model_construct(id=BATCH_ID)
            return await runner.stream_results(batch, FILE_ID, sink, parse=parts.route_line)

    started = time.perf_counter()
    count = asyncio.run(run())
    seconds = time.perf_counter() - started
    if url not in ("parse", "floor"):
        stored = len(parts.results(database, ids[0].rsplit("-", 1)[0]))
        assert stored == 1, "a routed result was not stored"
    return {"seconds": seconds, "lines": count, "peak_mb": peak_mb(), "before_mb": before}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median time (its own RSS figures with it)."""
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="runs of each (the median is shown)")
    parser.add_argument("--serve", nargs=2, metavar=("PATH", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--baseline", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--route", nargs=3, metavar=("PATH", "URL", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]))
        return
    if args.baseline:
        print(json.dumps(baseline(Path(args.baseline))))
        return
    if args.route:
        print(json.dumps(route(Path(args.route[0]), args.route[1], Path(args.route[2]))))
        return

    from batchcook.testing.server import free_port

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "output.jsonl"
        lines = write_file(path, args.mb)
        size_mb = path.stat().st_size / 1_000_000
        port = free_port("127.0.0.1")
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(path), str(port)])
        try:
            deadline = time.monotonic() + 20
            import httpx

            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "the file server did not start"
                    time.sleep(0.1)
            modes = {
                "baseline": ("--baseline", str(path)),
                "parse only": ("--route", str(path), "parse", tmp),
                "store only": ("--route", str(path), "store", tmp),
                "disk floor": ("--route", str(path), "floor", tmp),
                "from disk": ("--route", str(path), "disk", tmp),
                "over HTTP": ("--route", str(path), f"http://127.0.0.1:{port}", tmp),
            }
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in modes}
            for _ in range(args.runs):  # in turn, so a drift in the machine's speed hits all
                for name, mode in modes.items():
                    runs[name].append(child(*mode))
            measured = {name: _median(found) for name, found in runs.items()}
        finally:
            server.terminate()
            server.wait(10)
        print(f"file: {size_mb:,.0f} MB, {lines:,} lines (~1.5 MB base64 image each)")
        base, local, routed = (measured[n] for n in ("baseline", "from disk", "over HTTP"))
        rows = measured.items()
        print(f"median of {args.runs} runs of each, in turn")
        print(f"{'':10} {'seconds':>8} {'MB/s':>7} {'peak RSS MB':>12} {'vs baseline':>12}")
        for name, r in rows:
            rate = size_mb / r["seconds"]
            ratio = base["seconds"] / r["seconds"]
            print(f"{name:10} {r['seconds']:8.2f} {rate:7.1f} {r['peak_mb']:12.0f} {ratio:11.2f}x")
        print(
            "parse only: split, parsed and decoded, nothing stored; store only: the decoded "
            "images written to the parts table (SQLite, WAL) in the same slices, nothing parsed; "
            "disk floor: the same slices appended to a plain file, each flushed (fsync)"
        )
        floor = measured["disk floor"]
        print(
            f"routed from disk runs at {floor['seconds'] / local['seconds']:.2f}x the disk "
            f"floor's speed; the floor itself is {base['seconds'] / floor['seconds']:.2f}x the "
            "baseline: the most that any routing storing the images durably can reach here"
        )
        print(
            f"peak RSS once imports are loaded (before streaming): {local['before_mb']:.0f} MB; "
            f"growth while routing: {local['peak_mb'] - local['before_mb']:.0f} MB from disk, "
            f"{routed['peak_mb'] - routed['before_mb']:.0f} MB over HTTP"
        )


if __name__ == "__main__":
    main()
