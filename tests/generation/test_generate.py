"""``generate_data_and_image`` against the emulator through the official SDK: every mode and
every row of the error table."""

from __future__ import annotations

import io
import logging
from datetime import date, timedelta
from pathlib import Path

import pytest
from gen_helpers import ListRecorder, emulator_runner, emulator_settings
from openai import AsyncOpenAI
from PIL import Image

from batchcook.generation.catalog import load_catalog
from batchcook.generation.errors import (
    BatchCreationError,
    BatchExpiredError,
    BatchFailedError,
    BatchTimeoutError,
    IncompleteResponseError,
    InvalidResponseError,
    ModelRetiredError,
    ModelUnsupportedError,
    PartialFailureError,
    RefusalError,
)
from batchcook.generation.generate import Generation, generate_data_and_image, parse_structured
from batchcook.recipes.prompts import SYSTEM_INSTRUCTIONS, image_prompt
from batchcook.recipes.schema import Recipe
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator
from batchcook.testing.server import serve
from pinned import PINNED_DAY, RETIRED_IMAGE, RETIRING_ON, RETIRING_TEXT, pinned_emulator

PROMPT = "make me pasta carbonara"


async def _generate(
    emu: OpenAIEmulator,
    url: str,
    prompt: str = PROMPT,
    recorder: ListRecorder | None = None,
    today: date = PINNED_DAY,
    **overrides: object,
) -> Generation[Recipe]:
    mode = overrides.pop("mode", None)
    settings = emulator_settings(url, **overrides)
    async with AsyncOpenAI(api_key="sk-test-key", base_url=f"{url}/v1", max_retries=2) as client:
        runner = emulator_runner(
            emu,
            client,
            poll_interval=settings.poll_interval,
            poll_timeout=settings.poll_timeout,
            recorder=recorder,
        )
        return await generate_data_and_image(
            prompt,
            SYSTEM_INSTRUCTIONS,
            Recipe,
            image_prompt(prompt),
            mode=mode,  # type: ignore[arg-type]
            settings=settings,
            client=client,
            runner=runner,
            job_id="job1",
            today=today,
        )


def _jpeg_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image.size


async def test_batch_mode_happy_path(emu: OpenAIEmulator, emu_url: str) -> None:
    emu.faults.default_batch = BatchPlan(validating=5, in_progress=40, finalizing=5)
    g = await _generate(emu, emu_url)
    assert isinstance(g.data, Recipe)
    assert _jpeg_size(g.image) == (1536, 1024)
    assert [c.tier for c in g.costs] == ["batch", "batch"]
    assert len(g.batch_ids) == 2
    batches = [emu.state.batches[b] for b in g.batch_ids]
    assert {b.endpoint for b in batches} == {"/v1/responses", "/v1/images/generations"}
    assert all(b.metadata == {"batchcook_job": "job1"} for b in batches)
    catalog = load_catalog()
    text_cost = g.costs[0]
    assert text_cost.usd == pytest.approx(catalog.cost("gpt-5.6-luna", "batch", text_cost.usage))
    assert text_cost.usage.output_tokens > 0 and g.costs[1].usage.output_tokens > 0
    assert g.cost_usd == pytest.approx(sum(c.usd for c in g.costs))
    assert emu.state.files == {}, "inputs and results are deleted once read"
    # Both created, then polled together: one list page a round, never a retrieve each.
    assert not [path for path in emu.calls if path.startswith("/v1/batches/")]
    assert emu.calls["/v1/batches"] >= 3


async def test_flex_mode_batches_only_the_image(emu: OpenAIEmulator, emu_url: str) -> None:
    g = await _generate(emu, emu_url, mode="flex")
    assert [c.tier for c in g.costs] == ["flex", "batch"]
    assert [emu.state.batches[b].endpoint for b in g.batch_ids] == ["/v1/images/generations"]
    assert emu.calls["/v1/responses"] == 1


async def test_flex_with_standard_image_and_standard_mode(
    emu: OpenAIEmulator, emu_url: str
) -> None:
    flex = await _generate(emu, emu_url, mode="flex", flex_image="standard")
    assert [c.tier for c in flex.costs] == ["flex", "standard"]
    std = await _generate(emu, emu_url, mode="standard")
    assert [c.tier for c in std.costs] == ["standard", "standard"]
    assert emu.state.batches == {}
    assert std.costs[0].usd == pytest.approx(2 * flex.costs[0].usd)


async def test_flex_capacity_shortage_falls_back_to_standard(
    emu: OpenAIEmulator, emu_url: str
) -> None:
    emu.faults.http(status=429, path="/v1/responses", times=3, retry_after=0.01)
    g = await _generate(emu, emu_url, mode="flex", flex_image="standard")
    assert [c.tier for c in g.costs] == ["standard", "standard"]
    assert emu.calls["/v1/responses"] == 4  # 3 flex attempts (SDK retries), 1 standard


async def test_creation_failure_raises_at_once_and_cancels_the_sibling(
    emu: OpenAIEmulator, emu_url: str
) -> None:
    emu.faults.default_batch = BatchPlan(in_progress=600)
    emu.faults.http(status=500, method="POST", path="/v1/files", body_contains="gpt-image", times=3)
    with pytest.raises(BatchCreationError) as info:
        await _generate(emu, emu_url)
    assert "uploading the /v1/images/generations input file failed" in str(info.value)
    assert [b.endpoint for b in emu.state.batches.values()] == ["/v1/responses"]
    assert [b.status for b in emu.state.batches.values()] == ["cancelled"]


async def test_refused_batch_create_leaves_no_input_file(emu: OpenAIEmulator, emu_url: str) -> None:
    emu.faults.default_batch = BatchPlan(in_progress=600)
    emu.faults.http(
        status=400, method="POST", path="/v1/batches", body_contains="/v1/images/generations"
    )
    with pytest.raises(BatchCreationError) as info:
        await _generate(emu, emu_url)
    assert "creating the /v1/images/generations batch failed" in str(info.value)
    (text,) = emu.state.batches.values()
    assert text.status == "cancelled"
    # The text batch's input stays for the sweep (its batch exists); the refused one is gone.
    assert [f.id for f in emu.state.files.values() if f.purpose == "batch"] == [text.input_file_id]


async def test_timeout_names_the_batches_and_keeps_them(emu: OpenAIEmulator, emu_url: str) -> None:
    emu.faults.default_batch = BatchPlan.stuck("finalizing")
    recorder = ListRecorder()
    start = emu.clock.now()
    with pytest.raises(BatchTimeoutError) as info:
        await _generate(emu, emu_url, recorder=recorder)
    assert emu.clock.now() - start == pytest.approx(300)
    ids = info.value.batch_ids
    assert len(ids) == 2 and set(ids) == set(emu.state.batches)
    assert all(bid in str(info.value) for bid in ids)
    assert {e[1] for e in recorder.events if e[0] == "batch"} == set(ids)
    assert len([e for e in recorder.events if e[0] == "file"]) == 2
    assert info.value.retryable
    assert not [path for path in emu.calls if path.startswith("/v1/batches/batch_")]
    assert emu.calls["/v1/batches"] == 2 + 31  # 2 creates; every 10 s from 0 to 300 s, one page


async def test_failed_batches_raise_with_openai_reason(emu: OpenAIEmulator, emu_url: str) -> None:
    emu.faults.default_batch = BatchPlan(force="failed")
    with pytest.raises(BatchFailedError) as info:
        await _generate(emu, emu_url)
    assert "Enqueued token limit reached" in str(info.value)
    assert info.value.failure.code == "token_limit_exceeded"
    assert info.value.retryable


async def test_expired_batches(emu: OpenAIEmulator, emu_url: str) -> None:
    emu.faults.default_batch = BatchPlan(force="expired", finished=0)
    with pytest.raises(BatchExpiredError) as info:
        await _generate(emu, emu_url)
    assert info.value.failure.code == "batch_expired"


async def test_partial_failure_says_which_and_keeps_the_other(
    emu: OpenAIEmulator, emu_url: str
) -> None:
    emu.faults.next_batch(BatchPlan(fail_lines={"job1-image"}), endpoint="/v1/images/generations")
    with pytest.raises(PartialFailureError) as info:
        await _generate(emu, emu_url)
    assert "image request failed" in str(info.value)
    assert info.value.failure.custom_id == "job1-image"
    assert info.value.failure.status_code == 500
    assert info.value.retryable
    assert "job1-data" in info.value.partial


async def test_malformed_line_is_an_invalid_response(emu: OpenAIEmulator, emu_url: str) -> None:
    emu.faults.next_batch(BatchPlan(malformed_line=True), endpoint="/v1/responses")
    with pytest.raises(PartialFailureError) as info:
        await _generate(emu, emu_url)
    assert info.value.failure.kind == "malformed"
    assert info.value.failure.custom_id == "job1-data"


def test_parse_error_names_the_request_and_shows_an_excerpt() -> None:
    body = {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": "gpt-5.6-luna",
        "output": [
            {
                "id": "m",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": '{"title": "Soup"}', "annotations": []}
                ],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    with pytest.raises(InvalidResponseError) as info:
        parse_structured("job9-data", body, Recipe)
    assert "job9-data" in str(info.value)
    assert '{"title": "Soup"}' in str(info.value)


async def test_refusal(emu: OpenAIEmulator, emu_url: str) -> None:
    with pytest.raises(RefusalError) as info:
        await _generate(emu, emu_url, prompt="a stew with poison")
    assert info.value.custom_id == "job1-data"


async def test_incomplete_response(emu: OpenAIEmulator, emu_url: str) -> None:
    with pytest.raises(IncompleteResponseError) as info:
        await _generate(emu, emu_url, max_output_tokens=300)
    assert "max_output_tokens" in str(info.value)


async def test_retired_model_is_refused_before_any_upload(
    emu: OpenAIEmulator, emu_url: str
) -> None:
    with pytest.raises(ModelRetiredError) as info:
        await _generate(emu, emu_url, image_model="gpt-image-1")
    assert "gpt-image-2" in str(info.value)
    assert emu.calls == {}


@pytest.mark.parametrize(
    ("setting", "model", "day", "replacement"),
    [
        ("image_model", "gpt-image-1.5", date(2026, 12, 1), "gpt-image-2"),
        ("text_model", "gpt-5-mini", date(2026, 12, 11), "gpt-5.6-terra"),
    ],
)
async def test_shipped_retirements_refused_from_their_day(
    emu: OpenAIEmulator, emu_url: str, setting: str, model: str, day: date, replacement: str
) -> None:
    """The shipped catalog keeps retired models with their replacement, so choosing one is
    refused with "use X" on its shutdown day, before anything is uploaded."""
    with pytest.raises(ModelRetiredError) as info:
        await _generate(emu, emu_url, today=day, **{setting: model})
    assert model in str(info.value) and replacement in str(info.value)
    assert emu.calls == {}
    g = await _generate(emu, emu_url, today=day - timedelta(days=1), **{setting: model})
    assert isinstance(g.data, Recipe)


async def test_flex_needs_a_flex_model(emu: OpenAIEmulator, emu_url: str) -> None:
    with pytest.raises(ModelUnsupportedError):
        await _generate(emu, emu_url, mode="flex", text_model="gpt-6-luna")


async def test_retiring_model_warns_then_is_refused(
    retiring_catalog: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A catalog made for the test: a model ten days from shutdown warns, and from its
    shutdown day on the service and the emulator both refuse it."""
    emu = pinned_emulator(catalog=load_catalog(retiring_catalog))
    with serve(emu.app) as url:
        with caplog.at_level(logging.WARNING):
            await _generate(emu, url, text_model=RETIRING_TEXT, catalog_path=retiring_catalog)
        assert f"{RETIRING_TEXT} shuts down on {RETIRING_ON}" in caplog.text
        with pytest.raises(ModelRetiredError, match=r"gpt-5\.6-luna"):
            await _generate(
                emu, url, today=RETIRING_ON, text_model=RETIRING_TEXT, catalog_path=retiring_catalog
            )
        with pytest.raises(ModelRetiredError, match="gpt-image-2"):
            await _generate(emu, url, image_model=RETIRED_IMAGE, catalog_path=retiring_catalog)


async def test_429_then_success(emu: OpenAIEmulator, emu_url: str) -> None:
    emu.faults.http(status=429, method="POST", path="/v1/files", retry_after=0.01)
    g = await _generate(emu, emu_url)
    assert isinstance(g.data, Recipe)
    assert emu.calls["/v1/files"] == 3


async def test_empty_prompt(emu: OpenAIEmulator, emu_url: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        await _generate(emu, emu_url, prompt="   ")
    assert emu.calls == {}
