"""The batch lifecycle, file validation and faults, driven through the official SDK."""

from __future__ import annotations

import json

import openai
import pytest
from oai_helpers import image_body, line, read_lines, spec_errors, submit, text_body, upload
from openai import OpenAI

from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator
from batchcook.testing.server import serve

HOUR = 3600


def test_lifecycle_statuses_timestamps_counts_and_usage(
    emu: OpenAIEmulator, client: OpenAI
) -> None:
    emu.faults.next_batch(BatchPlan(validating=60, in_progress=100, finalizing=30))
    lines = [line(f"r{i}", text_body(f"dish {i}")) for i in range(4)]
    created = submit(client, lines)
    assert created.status == "validating"
    assert created.expires_at == created.created_at + 24 * HOUR
    assert created.completion_window == "24h"

    emu.advance(60)
    b = client.batches.retrieve(created.id)
    assert b.status == "in_progress"
    assert b.in_progress_at == created.created_at + 60
    assert b.model == "gpt-5.6-luna"
    assert b.request_counts is not None and b.request_counts.total == 4

    emu.advance(50)  # halfway: two of four lines are done
    b = client.batches.retrieve(created.id)
    assert b.request_counts is not None and b.request_counts.completed == 2

    emu.advance(50)
    b = client.batches.retrieve(created.id)
    assert b.status == "finalizing"
    assert b.output_file_id is None

    emu.advance(30)
    b = client.batches.retrieve(created.id)
    assert b.status == "completed"
    assert b.completed_at == created.created_at + 190
    assert b.request_counts is not None
    assert (b.request_counts.completed, b.request_counts.failed) == (4, 0)
    assert b.usage is not None and b.usage.output_tokens > 0
    assert b.error_file_id is None
    out = read_lines(client, b.output_file_id)
    assert sorted(o["custom_id"] for o in out) == ["r0", "r1", "r2", "r3"]
    for o in out:
        assert o["id"].startswith("batch_req_")
        assert o["error"] is None
        assert o["response"]["status_code"] == 200
        assert o["response"]["request_id"]
        assert o["response"]["body"]["object"] == "response"
        assert spec_errors("BatchRequestOutput", o) == []
    assert spec_errors("Batch", client.batches.retrieve(b.id), drop_nulls=True) == []
    assert client.files.retrieve(b.output_file_id).purpose == "batch_output"  # type: ignore[arg-type]


def test_output_order_is_not_input_order(client: OpenAI) -> None:
    ids = [f"r{i:02d}" for i in range(20)]
    b = client.batches.retrieve(submit(client, [line(i, text_body(i)) for i in ids]).id)
    got = [o["custom_id"] for o in read_lines(client, b.output_file_id)]
    assert sorted(got) == ids
    assert got != ids


def test_image_batch(client: OpenAI) -> None:
    b = submit(
        client, [line("img", image_body(), "/v1/images/generations")], "/v1/images/generations"
    )
    b = client.batches.retrieve(b.id)
    assert b.status == "completed"
    (out,) = read_lines(client, b.output_file_id)
    assert out["response"]["body"]["data"][0]["b64_json"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"endpoint": "/v1/responses/parse"}, "invalid_value"),
        ({"completion_window": "1h"}, "invalid_value"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "object_above_max_properties"),
        ({"metadata": {"k" * 65: "v"}}, "string_above_max_length"),
        ({"metadata": {"job": "v" * 513}}, "string_above_max_length"),
        ({"extra_thing": 1}, "unknown_parameter"),
    ],
)
def test_create_is_refused_at_once(client: OpenAI, payload: dict[str, object], code: str) -> None:
    body = {
        "input_file_id": upload(client, [line("a", text_body())]),
        "endpoint": "/v1/responses",
        "completion_window": "24h",
        **payload,
    }
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/batches", body=body, cast_to=object)
    assert info.value.code == code


def test_metadata_at_the_limits_is_accepted(client: OpenAI) -> None:
    meta = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    b = client.batches.create(
        input_file_id=upload(client, [line("a", text_body())]),
        endpoint="/v1/responses",
        completion_window="24h",
        metadata=meta,
    )
    assert b.metadata == meta


def _failed(
    client: OpenAI, lines: list[dict[str, object]] | list[str], endpoint: str = "/v1/responses"
) -> list[tuple[str, int | None, str | None]]:
    b = client.batches.retrieve(submit(client, lines, endpoint).id)
    assert b.status == "failed"
    assert b.failed_at is not None and b.output_file_id is None
    assert b.errors is not None and b.errors.data
    return [(e.code or "", e.line, e.param) for e in b.errors.data]


def test_url_must_equal_endpoint(client: OpenAI) -> None:
    lines = [line("t", text_body()), line("i", image_body(), "/v1/images/generations")]
    assert _failed(client, lines) == [("invalid_url", 2, "url")]


def test_duplicate_custom_id(client: OpenAI) -> None:
    assert _failed(client, [line("same", text_body("a")), line("same", text_body("b"))]) == [
        ("duplicate_custom_id", 2, "custom_id")
    ]


def test_one_model_per_file(client: OpenAI) -> None:
    lines = [line("a", text_body()), line("b", text_body(model="gpt-5.4-mini"))]
    assert _failed(client, lines) == [("invalid_request", 2, "body.model")]


def test_method_must_be_post(client: OpenAI) -> None:
    bad = {**line("a", text_body()), "method": "GET"}
    assert _failed(client, [bad]) == [("invalid_value", 1, "method")]


def test_invalid_json_and_missing_fields(client: OpenAI) -> None:
    lines = [
        '{"custom_id": "a", ',
        json.dumps({"custom_id": "b", "url": "/v1/responses", "body": {}}),
    ]
    assert _failed(client, lines) == [
        ("invalid_json_line", 1, None),
        ("missing_required_parameter", 2, "method"),
    ]


def test_streaming_and_unsupported_models(client: OpenAI) -> None:
    lines = [
        line("a", {**text_body(), "stream": True}),
        line("b", text_body(model="gpt-nope")),
        line("c", {"input": "no model"}),
    ]
    assert _failed(client, lines) == [
        ("streaming_unsupported", 1, "body.stream"),
        ("model_not_found", 2, "body.model"),
        ("invalid_request", 3, "body.model"),
    ]


def test_retired_model_fails_validation(client: OpenAI) -> None:
    lines = [line("i", {**image_body(), "model": "gpt-image-1"}, "/v1/images/generations")]
    assert _failed(client, lines, "/v1/images/generations") == [
        ("model_not_found", 1, "body.model")
    ]


def test_missing_input_file(client: OpenAI) -> None:
    b = client.batches.create(
        input_file_id="file-nope", endpoint="/v1/responses", completion_window="24h"
    )
    b = client.batches.retrieve(b.id)
    assert b.status == "failed"
    assert b.errors is not None and b.errors.data[0].param == "file_id"


def test_line_limit() -> None:
    emu = OpenAIEmulator(max_batch_lines=2)
    with serve(emu.app) as url:
        client = OpenAI(api_key="k", base_url=f"{url}/v1", max_retries=0)
        b = submit(client, [line(f"r{i}", text_body()) for i in range(3)])
        b = client.batches.retrieve(b.id)
    assert b.status == "failed"
    assert b.errors is not None and "at most 2" in (b.errors.data[0].message or "")
    assert OpenAIEmulator().max_batch_lines == 50_000


def test_line_level_400_goes_to_the_error_file_only(client: OpenAI) -> None:
    lines = [
        line("ok", image_body(), "/v1/images/generations"),
        line("bad", image_body(response_format="b64_json"), "/v1/images/generations"),
    ]
    b = client.batches.retrieve(submit(client, lines, "/v1/images/generations").id)
    assert b.status == "completed"
    assert b.request_counts is not None
    assert (b.request_counts.completed, b.request_counts.failed) == (1, 1)
    (err,) = read_lines(client, b.error_file_id)
    assert err["custom_id"] == "bad"
    assert err["error"] is None
    assert err["response"]["status_code"] == 400
    assert err["response"]["body"]["error"] == {
        "message": "Unknown parameter: 'response_format'.",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": "unknown_parameter",
    }
    assert [o["custom_id"] for o in read_lines(client, b.output_file_id)] == ["ok"]


def test_all_lines_failed_completes_without_output_file(client: OpenAI) -> None:
    lines = [line(f"r{i}", {**text_body(), "max_output_tokens": 1}) for i in range(3)]
    b = client.batches.retrieve(submit(client, lines).id)
    assert b.status == "completed"
    assert b.output_file_id is None
    assert b.error_file_id is not None
    assert b.request_counts is not None and b.request_counts.failed == 3
    assert {e["response"]["status_code"] for e in read_lines(client, b.error_file_id)} == {400}


def test_forced_expiry_keeps_finished_lines(emu: OpenAIEmulator, client: OpenAI) -> None:
    emu.faults.next_batch(BatchPlan(force="expired", finished=1))
    b = client.batches.retrieve(
        submit(client, [line(f"r{i}", text_body(str(i))) for i in range(3)]).id
    )
    assert b.status == "expired"
    assert b.expired_at is not None
    assert len(read_lines(client, b.output_file_id)) == 1
    errors = read_lines(client, b.error_file_id)
    assert len(errors) == 2
    assert {e["error"]["code"] for e in errors} == {"batch_expired"}
    assert all(e["response"] is None for e in errors)


def test_window_expiry_on_the_clock(emu: OpenAIEmulator, client: OpenAI) -> None:
    emu.faults.next_batch(BatchPlan(in_progress=48 * HOUR))  # half the lines by the deadline
    created = submit(client, [line(f"r{i}", text_body(str(i))) for i in range(4)])
    emu.advance(23 * HOUR)
    assert client.batches.retrieve(created.id).status == "in_progress"
    emu.advance(2 * HOUR)
    b = client.batches.retrieve(created.id)
    assert b.status == "expired"
    assert b.expired_at == b.expires_at
    assert len(read_lines(client, b.output_file_id)) == 2
    assert len(read_lines(client, b.error_file_id)) == 2


def test_stuck_batches_stay_stuck_until_the_window_ends(
    emu: OpenAIEmulator, client: OpenAI
) -> None:
    emu.faults.next_batch(BatchPlan.stuck("validating"))
    emu.faults.next_batch(BatchPlan.stuck("finalizing"))
    a = submit(client, [line("a", text_body())])
    b = submit(client, [line("b", text_body())])
    emu.advance(12 * HOUR)
    assert client.batches.retrieve(a.id).status == "validating"
    assert client.batches.retrieve(b.id).status == "finalizing"
    emu.advance(13 * HOUR)
    assert client.batches.retrieve(a.id).status == "expired"
    assert client.batches.retrieve(b.id).status == "expired"


def test_cancel_keeps_finished_lines(emu: OpenAIEmulator, client: OpenAI) -> None:
    emu.faults.next_batch(BatchPlan(in_progress=100, cancelling=600))
    created = submit(client, [line(f"r{i}", text_body(str(i))) for i in range(4)])
    emu.advance(50)
    b = client.batches.cancel(created.id)
    assert b.status == "cancelling"
    assert b.cancelling_at is not None
    emu.advance(599)
    assert client.batches.retrieve(created.id).status == "cancelling"
    emu.advance(1)
    b = client.batches.retrieve(created.id)
    assert b.status == "cancelled"
    assert len(read_lines(client, b.output_file_id)) == 2
    assert {e["error"]["code"] for e in read_lines(client, b.error_file_id)} == {"batch_cancelled"}
    assert client.batches.cancel(created.id).status == "cancelled"  # allowed again


def test_cannot_cancel_a_finished_batch(client: OpenAI) -> None:
    b = client.batches.retrieve(submit(client, [line("a", text_body())]).id)
    with pytest.raises(openai.ConflictError) as info:
        client.batches.cancel(b.id)
    assert info.value.body["message"] == "Cannot cancel a batch with status 'completed'."  # type: ignore[index]


def test_forced_failure_and_forced_cancel(emu: OpenAIEmulator, client: OpenAI) -> None:
    emu.faults.next_batch(BatchPlan(force="failed"))
    emu.faults.next_batch(BatchPlan(force="cancelled", finished=0))
    failed = client.batches.retrieve(submit(client, [line("a", text_body())]).id)
    assert failed.status == "failed"
    assert failed.errors is not None and failed.errors.data[0].code == "token_limit_exceeded"
    cancelled = client.batches.retrieve(submit(client, [line("b", text_body())]).id)
    assert cancelled.status == "cancelled"
    assert cancelled.output_file_id is None


def test_partial_failure_and_malformed_line(emu: OpenAIEmulator, client: OpenAI) -> None:
    emu.faults.next_batch(BatchPlan(fail_lines={"r1"}, malformed_line=True))
    b = client.batches.retrieve(
        submit(client, [line(f"r{i}", text_body(str(i))) for i in range(3)]).id
    )
    (err,) = read_lines(client, b.error_file_id)
    assert (err["custom_id"], err["response"]["status_code"]) == ("r1", 500)
    raw = client.files.content(b.output_file_id).text.splitlines()  # type: ignore[arg-type]
    assert len(raw) == 2
    broken = 0
    for text in raw:
        try:
            json.loads(text)
        except ValueError:
            broken += 1
    assert broken == 1


def test_list_is_newest_first_with_cursor(emu: OpenAIEmulator, client: OpenAI) -> None:
    ids = []
    for _ in range(5):
        ids.append(submit(client, [line("a", text_body())]).id)
        emu.advance(1)
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2]
    assert page.has_more
    nxt = client.batches.list(limit=2, after=page.data[-1].id)
    assert [b.id for b in nxt.data] == ids[::-1][2:4]
    assert [b.id for b in client.batches.list(limit=2)] == ids[::-1]  # auto-pagination
    assert spec_errors("ListBatchesResponse", page, drop_nulls=True) == []
    with pytest.raises(openai.BadRequestError) as info:
        client.batches.list(limit=101)
    assert info.value.code == "integer_above_max_value"


# --- HTTP faults -----------------------------------------------------------------------------


def test_429_with_retry_after_then_success(emu: OpenAIEmulator, emu_url: str) -> None:
    emu.faults.http(status=429, path="/v1/batches", retry_after=0.01)
    strict = OpenAI(api_key="k", base_url=f"{emu_url}/v1", max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        strict.batches.list()
    assert info.value.response.headers["retry-after"] == "0.01"
    assert info.value.code == "rate_limit_exceeded"
    emu.faults.http(status=429, path="/v1/batches", retry_after=0.01)
    retrying = OpenAI(api_key="k", base_url=f"{emu_url}/v1", max_retries=2)
    before = emu.calls.get("/v1/batches", 0)
    retrying.batches.list()
    assert emu.calls["/v1/batches"] - before == 2


@pytest.mark.parametrize(
    ("status", "error"), [(500, openai.InternalServerError), (503, openai.InternalServerError)]
)
def test_server_errors(
    emu: OpenAIEmulator, client: OpenAI, status: int, error: type[Exception]
) -> None:
    emu.faults.http(status=status, path="/v1/files", times=1)
    with pytest.raises(error):
        client.files.list()
    client.files.list()  # the fault was used up


def test_slow_response_times_out(emu: OpenAIEmulator, emu_url: str) -> None:
    emu.faults.http(kind="slow", seconds=0.5, path="/v1/batches")
    impatient = OpenAI(api_key="k", base_url=f"{emu_url}/v1", max_retries=0, timeout=0.1)
    with pytest.raises(openai.APITimeoutError):
        impatient.batches.list()


def test_truncated_download(emu: OpenAIEmulator, client: OpenAI) -> None:
    lines = [line(f"r{i}", text_body(str(i) * 500)) for i in range(30)]
    b = client.batches.retrieve(submit(client, lines).id)
    assert b.output_file_id is not None
    emu.faults.http(kind="truncate", path=f"/v1/files/{b.output_file_id}/content")
    with pytest.raises(openai.APIConnectionError):
        client.files.content(b.output_file_id).read()
    assert len(client.files.content(b.output_file_id).read()) > 0
