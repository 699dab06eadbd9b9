"""The generic toolkit on its own: many requests, splits, odd endings, broken downloads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from gen_helpers import ListRecorder, emulator_runner
from openai import AsyncOpenAI

from batchcook.generation.batch import BatchRequest, Failure, Success, plan_chunks
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator

RESPONSES = "/v1/responses"
IMAGES = "/v1/images/generations"


def text(custom_id: str, model: str = "gpt-5.6-luna", **extra: object) -> BatchRequest:
    return BatchRequest(
        custom_id, RESPONSES, {"model": model, "input": f"dish {custom_id}", **extra}
    )


@pytest.fixture
async def client(emu_url: str) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(api_key="sk-test", base_url=f"{emu_url}/v1", max_retries=2) as c:
        yield c


async def test_results_match_by_custom_id_whatever_the_order(
    emu: OpenAIEmulator, client: AsyncOpenAI
) -> None:
    requests = [text(f"r{i:02d}") for i in range(25)]
    results = await emulator_runner(emu, client).run(requests)
    assert sorted(results) == [r.custom_id for r in requests]
    for r in requests:
        result = results[r.custom_id]
        assert isinstance(result, Success)
        assert f"dish {r.custom_id}" in result.body["output"][-1]["content"][0]["text"]


async def test_groups_per_endpoint_and_model_and_splits(
    emu: OpenAIEmulator, client: AsyncOpenAI
) -> None:
    requests = [text(f"a{i}") for i in range(5)] + [text(f"b{i}", "gpt-5.4-mini") for i in range(2)]
    requests.append(
        BatchRequest("img", IMAGES, {"model": "gpt-image-2", "prompt": "soup", "size": "1024x1024"})
    )
    recorder = ListRecorder()
    runner = emulator_runner(emu, client, max_lines=2, recorder=recorder)
    results = await runner.run(requests, metadata={"job": "many"})
    assert all(isinstance(r, Success) for r in results.values())
    assert len(results) == 8
    batches = list(emu.state.batches.values())
    assert sorted((b.endpoint, b.model, b.counts["total"]) for b in batches) == [
        (IMAGES, "gpt-image-2", 1),
        (RESPONSES, "gpt-5.4-mini", 2),
        (RESPONSES, "gpt-5.6-luna", 1),
        (RESPONSES, "gpt-5.6-luna", 2),
        (RESPONSES, "gpt-5.6-luna", 2),
    ]
    assert all(b.metadata == {"job": "many"} for b in batches)
    assert len([e for e in recorder.events if e[0] == "batch"]) == 5


def test_split_by_bytes() -> None:
    requests = [text(f"r{i}", instructions="x" * 1000) for i in range(10)]
    chunks = plan_chunks(requests, max_bytes=3500)
    assert [len(c.lines) for c in chunks] == [3, 3, 3, 1]
    assert all(c.size <= 3500 for c in chunks)


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([text("a"), text("a")], "appears twice"),
        ([text("a", stream=True)], "stream"),
        ([BatchRequest("a", RESPONSES, {"input": "x"})], "no model"),
        ([text("a", instructions="x" * 500)], "over the"),
    ],
)
def test_refused_locally_before_upload(requests: list[BatchRequest], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_chunks(requests, max_bytes=400)


async def test_line_errors_and_all_failed_batch(emu: OpenAIEmulator, client: AsyncOpenAI) -> None:
    requests = [text("bad1", max_output_tokens=1), text("bad2", max_output_tokens=1)]
    results = await emulator_runner(emu, client).run(requests)
    (batch,) = emu.state.batches.values()
    assert batch.output_file_id is None
    for r in results.values():
        assert isinstance(r, Failure)
        assert (r.kind, r.status_code, r.code) == ("http_error", 400, "integer_below_min_value")
        assert not r.retryable
        assert "max_output_tokens" in r.describe()


async def test_expired_and_cancelled_keep_finished_results(
    emu: OpenAIEmulator, client: AsyncOpenAI
) -> None:
    emu.faults.next_batch(BatchPlan(force="expired", finished=2))
    results = await emulator_runner(emu, client).run([text(f"r{i}") for i in range(4)])
    assert sum(isinstance(r, Success) for r in results.values()) == 2
    expired = [r for r in results.values() if isinstance(r, Failure)]
    assert {(r.kind, r.code, r.retryable) for r in expired} == {("expired", "batch_expired", True)}

    emu.faults.next_batch(BatchPlan(in_progress=100))
    runner = emulator_runner(emu, client)
    (submitted,) = await runner.submit([text(f"c{i}") for i in range(4)])
    emu.advance(50)
    await runner.cancel([submitted.id])
    batches = await runner.wait([submitted.id])
    assert batches[submitted.id].status == "cancelled"
    results = await runner.collect(batches.values(), {submitted.id: submitted.custom_ids})
    assert sum(isinstance(r, Success) for r in results.values()) == 2
    assert {r.kind for r in results.values() if isinstance(r, Failure)} == {"cancelled"}


async def test_failed_batch_gives_each_request_the_reason(
    emu: OpenAIEmulator, client: AsyncOpenAI
) -> None:
    requests = [
        text("a"),
        BatchRequest("b", RESPONSES, {"model": "gpt-5.6-luna", "input": "x", "stream": False}),
    ]
    requests[1].body["model"] = "gpt-5.6-luna"
    emu.faults.next_batch(BatchPlan(force="failed"))
    results = await emulator_runner(emu, client).run(requests)
    for r in results.values():
        assert isinstance(r, Failure) and r.kind == "batch_failed"
        assert r.code == "token_limit_exceeded" and r.retryable


async def test_malformed_line_becomes_a_failure_for_its_request(
    emu: OpenAIEmulator, client: AsyncOpenAI
) -> None:
    emu.faults.next_batch(BatchPlan(malformed_line=True))
    results = await emulator_runner(emu, client).run([text("a"), text("b"), text("c")])
    malformed = [r for r in results.values() if isinstance(r, Failure)]
    assert len(malformed) == 1 and malformed[0].kind == "malformed"
    assert sum(isinstance(r, Success) for r in results.values()) == 2


async def test_truncated_download_is_read_again(emu: OpenAIEmulator, client: AsyncOpenAI) -> None:
    runner = emulator_runner(emu, client)
    (submitted,) = await runner.submit([text(f"r{i}", instructions="y" * 3000) for i in range(40)])
    batches = await runner.wait([submitted.id])
    output = batches[submitted.id].output_file_id
    emu.faults.http(kind="truncate", path=f"/v1/files/{output}/content")
    results = await runner.collect(batches.values(), {submitted.id: submitted.custom_ids})
    assert len(results) == 40 and all(isinstance(r, Success) for r in results.values())
    assert emu.calls[f"/v1/files/{output}/content"] == 2


async def test_many_batches_are_polled_through_the_list_endpoint(
    emu: OpenAIEmulator, client: AsyncOpenAI
) -> None:
    emu.faults.default_batch = BatchPlan(in_progress=25)
    runner = emulator_runner(emu, client, max_lines=1)
    submitted = await runner.submit([text(f"r{i}") for i in range(10)])
    batches = await runner.wait([s.id for s in submitted])
    assert all(b.status == "completed" for b in batches.values())
    assert emu.calls["/v1/batches"] == 10 + 4  # 10 creates, then one list page per poll
    assert not any(p.startswith("/v1/batches/batch_") for p in emu.calls)


async def test_list_batches_walks_every_page(emu: OpenAIEmulator, client: AsyncOpenAI) -> None:
    runner = emulator_runner(emu, client, max_lines=1)
    await runner.submit([text(f"r{i}") for i in range(5)])
    seen = [b.id async for b in runner.list_batches(limit=2)]
    assert len(seen) == 5
