"""The HTTP API over real HTTP: create via GET and POST, the signed Notion webhook, job
status, auth and every bad input — against both emulators, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import job_waits
import pytest
from dbos import DBOS
from pydantic import SecretStr

from batchcook import budget
from batchcook.api.app import create_app
from batchcook.config import Settings
from batchcook.jobs import Job
from batchcook.stores.notion.webhook import reset_verification_token, sign
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator
from batchcook.testing.openai_emulator.webhooks import batch_event, signed_request
from batchcook.testing.polling import poll
from batchcook.testing.server import serve
from batchcook.workflows import spend
from batchcook.workflows.runtime import runtime

TOKEN = "secret_verification_token_123"


@pytest.fixture
def api(service: Settings) -> Iterator[tuple[str, Settings]]:
    settings = service.model_copy(
        update={"api_key": SecretStr("api-key-1"), "notion_verification_token": SecretStr(TOKEN)}
    )
    with serve(create_app(settings, manage_engine=False)) as url:
        yield url, settings


AUTH = {"Authorization": "Bearer api-key-1"}


def wait_job(
    url: str, job_id: str, statuses: tuple[str, ...] = ("succeeded", "failed"), timeout: float = 30
) -> dict[str, Any]:
    return job_waits.wait_job(url, job_id, statuses, timeout, headers=AUTH)


def test_create_by_post_and_follow_every_state(
    api: tuple[str, Settings], openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    url, _ = api
    openai_emu.faults.default_batch = BatchPlan(validating=10, in_progress=10, finalizing=10)
    r = httpx.post(
        f"{url}/api/recipes",
        json={"prompt": "pasta carbonara", "request_id": uuid.uuid4().hex},
        headers=AUTH,
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["message"] == "Recipe creation in progress"
    assert body["status_url"].endswith(f"/api/jobs/{body['job_id']}")
    job = wait_job(url, body["job_id"], ("generating",))
    assert len(job["batches"]) == 2
    for _ in range(3):
        openai_emu.advance(10)
    done = wait_job(url, body["job_id"])
    assert done["status"] == "succeeded", done["error"]
    assert "generating" in done["_seen"]
    assert done["page_url"] and done["cost_usd"] > 0
    assert len(notion_emu.pages()) == 1
    assert "Pasta Carbonara" in notion_emu.render_text(done["page_id"])


def test_create_by_get_with_query_key_and_same_request_id_is_one_job(
    api: tuple[str, Settings], openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    url, _ = api
    rid = uuid.uuid4().hex
    first = httpx.get(
        f"{url}/recipes", params={"prompt": "ramen", "key": "api-key-1", "request_id": rid}
    )
    second = httpx.get(
        f"{url}/api/recipes", params={"prompt": "ramen", "key": "api-key-1", "request_id": rid}
    )
    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]
    assert wait_job(url, first.json()["job_id"])["status"] == "succeeded"
    assert len(openai_emu.state.batches) == 2
    assert len(notion_emu.pages()) == 1


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "needle"),
    [
        ("POST", "/api/recipes", {"json": {"prompt": ""}}, 422, "empty"),
        ("POST", "/api/recipes", {"json": {}}, 422, "missing"),
        ("POST", "/api/recipes", {"json": {"prompt": "x" * 2001}}, 422, "2,001 characters"),
        (
            "POST",
            "/api/recipes",
            {"json": {"prompt": "soup", "mode": "turbo"}},
            422,
            "unknown mode",
        ),
        ("POST", "/api/recipes", {"content": b"{not json"}, 400, "not valid JSON"),
        ("POST", "/api/recipes", {"json": ["soup"]}, 400, "JSON object"),
        ("GET", "/api/jobs/create-nope", {}, 404, "no job"),
        ("POST", "/api/jobs/modify", {"json": {"request": "vegan"}}, 422, "page_id"),
        # Found by probing: each of these answered 500 or started a job that would fail.
        ("POST", "/api/recipes", {"content": b'{"prompt": "soup", "db": NaN}'}, 400, "JSON"),
        ("POST", "/api/recipes", {"json": {"prompt": "soup", "db": 123}}, 422, "Notion id"),
        ("POST", "/api/recipes", {"json": {"prompt": "soup", "db": {}}}, 422, "Notion id"),
        ("POST", "/api/recipes", {"json": {"prompt": "soup", "db": "../x"}}, 422, "Notion id"),
        (
            "POST",
            "/api/jobs/modify",
            {"json": {"page_id": "0" * 32, "request": "vegan", "request_id": 7}},
            422,
            "request_id",
        ),
        ("POST", "/api/jobs/modify", {"json": {"page_id": "p1", "request": "x"}}, 422, "Notion"),
        ("POST", "/api/recipes", {"json": {"prompt": "\u200b\u200d\ufeff"}}, 422, "no letters"),
        ("POST", "/api/recipes", {"content": b'{"prompt": "\\ud800"}'}, 422, "Unicode"),
        (
            "POST",
            "/api/recipes",
            {"content": b'{"prompt": "soup"}', "headers": {"Content-Type": "text/plain"}},
            415,
            "application/json",
        ),
        ("GET", "/api/jobs?status=bogus", {}, 422, "unknown status"),
    ],
)
def test_bad_input_is_a_precise_4xx_and_reaches_nothing(
    api: tuple[str, Settings],
    openai_emu: OpenAIEmulator,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    needle: str,
) -> None:
    url, _ = api
    kwargs = dict(kwargs)  # the parameters are shared by the SQLite and Postgres runs
    headers = {**AUTH, **kwargs.pop("headers", {})}
    r = httpx.request(method, f"{url}{path}", headers=headers, **kwargs)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]
    assert openai_emu.calls == {}
    assert httpx.get(f"{url}/api/jobs", headers=AUTH).status_code == 200


def test_bulk_creates_one_job_a_prompt_all_or_nothing(
    api: tuple[str, Settings], openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    url, _ = api
    rid = uuid.uuid4().hex
    bad = httpx.post(
        f"{url}/api/recipes/bulk",
        json={"prompts": ["ramen", "", "pho"], "request_id": rid},
        headers=AUTH,
    )
    assert bad.status_code == 422 and "prompt 2: the prompt is empty" in bad.text
    body = {"prompts": ["ramen", {"prompt": "pho", "mode": "standard"}], "request_id": rid}
    first = httpx.post(f"{url}/api/recipes/bulk", json=body, headers=AUTH)
    assert first.status_code == 202, first.text
    ids = [j["job_id"] for j in first.json()["jobs"]]
    assert ids == [f"create-{rid}-0", f"create-{rid}-1"]
    done = [wait_job(url, job_id) for job_id in ids]
    assert [j["status"] for j in done] == ["succeeded", "succeeded"], done
    assert [j["mode"] for j in done] == ["batch", "standard"]
    again = httpx.post(f"{url}/api/recipes/bulk", json=body, headers=AUTH)
    assert [j["job_id"] for j in again.json()["jobs"]] == ids
    assert len(openai_emu.state.batches) == 2  # only the batch-mode prompt made batches
    assert len(notion_emu.pages()) == 2


def test_bodies_are_limited_before_they_are_read(
    api: tuple[str, Settings], openai_emu: OpenAIEmulator
) -> None:
    url, settings = api
    big = b'{"prompt": "' + b"x" * settings.max_body_bytes + b'"}'
    r = httpx.post(f"{url}/api/recipes", content=big, headers=AUTH)
    assert r.status_code == 413 and "BATCHCOOK_MAX_BODY_BYTES" in r.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"verification_token": "'
        for _ in range(64):
            yield b"a" * 65536
        yield b'"}'

    r = httpx.post(f"{url}/api/recipes/modify", content=chunks())
    assert r.status_code == 413
    assert openai_emu.calls == {}


def test_auth(api: tuple[str, Settings]) -> None:
    url, _ = api
    assert httpx.post(f"{url}/api/recipes", json={"prompt": "soup"}).status_code == 401
    wrong = httpx.post(
        f"{url}/api/recipes", json={"prompt": "soup"}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401 and "api-key-1" not in wrong.text
    assert (
        httpx.post(
            f"{url}/api/recipes", params={"key": "api-key-1"}, json={"prompt": "soup"}
        ).status_code
        == 401
    )
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{url}/api/jobs", headers=AUTH).status_code == 200


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def _event(
    kind: str,
    comment_id: str,
    page_id: str,
    event_id: str | None = None,
    author_type: str = "person",
    timestamp: str | None = None,
) -> bytes:
    return json.dumps(
        {
            "id": event_id or str(uuid.uuid4()),
            "timestamp": timestamp or _iso(time.time() - 30),
            "workspace_id": "w",
            "subscription_id": "s",
            "integration_id": "i",
            "type": kind,
            "attempt_number": 1,
            "authors": [{"id": "u", "type": author_type}],
            "entity": {"id": comment_id, "type": "comment"},
            "data": {"page_id": page_id, "parent": {"id": page_id, "type": "page"}},
        }
    ).encode()


def _deliver(url: str, body: bytes, token: str = TOKEN) -> httpx.Response:
    return httpx.post(
        f"{url}/api/recipes/modify",
        content=body,
        headers={"X-Notion-Signature": sign(token, body), "Content-Type": "application/json"},
    )


def test_modify_via_signed_webhook(
    api: tuple[str, Settings], openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    url, _ = api
    created = httpx.post(f"{url}/api/recipes", json={"prompt": "beef chili"}, headers=AUTH).json()
    page_id = wait_job(url, created["job_id"])["page_id"]
    comment_id = notion_emu.add_user_comment(page_id, "#modify make it vegan")
    event = _event("comment.created", comment_id, page_id, event_id=str(uuid.uuid4()))

    first, again = _deliver(url, event), _deliver(url, event)
    assert first.status_code == again.status_code == 202, first.text
    assert first.json()["message"] == "Recipe modification in progress"
    assert first.json()["job_id"] == again.json()["job_id"]
    # A replay with a fresh event id but the same comment is the same job, not a second charge.
    replay = _deliver(url, _event("comment.created", comment_id, page_id))
    assert replay.json()["job_id"] == first.json()["job_id"]
    # An old event (signed, but captured long ago) is refused whatever its ids.
    stale = _event("comment.created", str(uuid.uuid4()), page_id, timestamp="2019-01-01T00:00:00Z")
    r = _deliver(url, stale)
    assert r.status_code == 200 and "older than" in r.json()["message"]
    # A signed event for a comment that does not exist: 200 ignored (Notion would retry 5xx).
    r = _deliver(url, _event("comment.created", str(uuid.uuid4()), page_id))
    assert r.status_code == 200 and "no such comment" in r.json()["message"]
    done = wait_job(url, first.json()["job_id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["page_id"] == page_id
    assert len(notion_emu.pages()) == 1
    assert len(openai_emu.state.batches) == 4  # two for the create, two for one modification
    text_batch = [
        b for b in openai_emu.state.batches.values() if b.endpoint == "/v1/images/generations"
    ][-1]
    image_prompt = (
        json.loads(openai_emu.state.files.get(text_batch.input_file_id).data)["body"]["prompt"]
        if text_batch.input_file_id in openai_emu.state.files
        else None
    )
    assert image_prompt is None or "vegan" in image_prompt


def test_webhook_handshake_bad_signature_and_ignored_events(
    api: tuple[str, Settings],
    service: Settings,
    notion_emu: NotionEmulator,
    openai_emu: OpenAIEmulator,
    tmp_path: Path,
) -> None:
    url, settings = api
    fresh = settings.model_copy(
        update={"notion_verification_token": None, "data_dir": tmp_path / "hook"}
    )
    with serve(create_app(fresh, manage_engine=False)) as hook_url:
        unsigned = json.dumps({"id": "e1", "type": "comment.created"}).encode()
        assert httpx.post(f"{hook_url}/api/recipes/modify", content=unsigned).status_code == 401
        shake = httpx.post(
            f"{hook_url}/api/recipes/modify", json={"verification_token": "secret_handshake"}
        )
        assert shake.status_code == 200
        assert (tmp_path / "hook" / "notion_verification_token").read_text() == "secret_handshake"
        ok = _deliver(hook_url, _event("page.created", "c", "p"), token="secret_handshake")
        assert ok.status_code == 200 and "ignored" in ok.json()["message"]

        # Once a token is saved, no unsigned request replaces it, however it is shaped.
        for evil in ({"verification_token": "secret_evil_token_1234"}, {"verification_token": 7}):
            refused = httpx.post(f"{hook_url}/api/recipes/modify", json=evil)
            assert refused.status_code in (401, 409), refused.text
        taken = httpx.post(
            f"{hook_url}/api/recipes/modify", json={"verification_token": "secret_evil_token_1234"}
        )
        assert taken.status_code == 409 and "webhook-reset" in taken.json()["error"]["message"]
        assert (tmp_path / "hook" / "notion_verification_token").read_text() == "secret_handshake"
        ok = _deliver(hook_url, _event("page.created", "c", "p"), token="secret_handshake")
        assert ok.status_code == 200

        # The operator resets it; then a handshake is taken again, but only a token-shaped one.
        assert "removed" in reset_verification_token(fresh)
        forged_log = httpx.post(
            f"{hook_url}/api/recipes/modify",
            json={"verification_token": "secret_abcdefghijkl\nERROR forged log line"},
        )
        assert forged_log.status_code == 400
        again = httpx.post(
            f"{hook_url}/api/recipes/modify", json={"verification_token": "secret_new_token_5678"}
        )
        assert again.status_code == 200

    # A configured token (NOTION_VERIFICATION_TOKEN) is never replaced by a handshake.
    takeover = httpx.post(
        f"{url}/api/recipes/modify", json={"verification_token": "secret_evil_token_1234"}
    )
    assert takeover.status_code == 409
    assert _deliver(url, _event("page.created", "c", "p")).status_code == 200

    forged = _event("comment.created", "c", "p")
    assert _deliver(url, forged, token="wrong-token").status_code == 401
    assert httpx.post(f"{url}/api/recipes/modify", content=forged).status_code == 401
    # Unsigned bodies are not parsed at all; a signed malformed one is a 400.
    assert httpx.post(f"{url}/api/recipes/modify", content=b"{oops").status_code == 401
    assert _deliver(url, b"{oops").status_code == 400
    assert _deliver(url, b'{"id": "e", "type": "comment.created", "entity": 5}').status_code == 400

    created = httpx.post(f"{url}/api/recipes", json={"prompt": "lentil soup"}, headers=AUTH).json()
    page_id = wait_job(url, created["job_id"])["page_id"]
    plain = notion_emu.add_user_comment(page_id, "looks tasty!")
    r = _deliver(url, _event("comment.created", plain, page_id))
    assert r.status_code == 200 and "does not start with #modify" in r.json()["message"]
    r = _deliver(url, _event("comment.created", plain, page_id, author_type="bot"))
    assert r.status_code == 200 and "integration" in r.json()["message"]
    ours = next(
        c.id for c in notion_emu.workspace.comments.values() if c.author != notion_emu.user_id
    )
    r = _deliver(url, _event("comment.created", ours, page_id))  # authors forged as a person
    assert r.status_code == 200 and "our own comment" in r.json()["message"]
    assert len(openai_emu.state.batches) == 2  # nothing was generated for ignored comments


WHSEC = "whsec_" + __import__("base64").b64encode(b"emulator-webhook-secret").decode()


def test_openai_webhook_wakes_the_job_and_forgeries_are_refused(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    settings = service.model_copy(
        update={
            "openai_webhook_secret": SecretStr(WHSEC),
            "poll_interval": 30,
            "poll_timeout": 3600,
        }
    )
    runtime().settings = settings
    with serve(create_app(settings, manage_engine=False)) as url:
        openai_emu.send_webhooks(f"{url}/api/openai/webhook", WHSEC)
        openai_emu.faults.default_batch = BatchPlan(in_progress=600)
        r = httpx.post(f"{url}/api/recipes", json={"prompt": "risotto"})
        job_id = r.json()["job_id"]
        wait_job(url, job_id, ("generating",))
        openai_emu.advance(600)  # both batches end; the emulator posts batch.completed
        done = wait_job(url, job_id, timeout=10)  # long before the 30 s poll
        assert done["status"] == "succeeded", done["error"]

        body, headers = signed_request(
            "whsec_" + "Zm9yZ2Vk", batch_event("batch_x", "completed", 0)
        )
        forged = httpx.post(f"{url}/api/openai/webhook", content=body, headers=headers)
        assert forged.status_code == 401
        unsigned = httpx.post(f"{url}/api/openai/webhook", content=body)
        assert unsigned.status_code == 401

        # A genuine event for a batch this project does not have: 200 ignored, not a 500.
        body, headers = signed_request(WHSEC, batch_event("batch_unknown", "completed", 0))
        r = httpx.post(f"{url}/api/openai/webhook", content=body, headers=headers)
        assert r.status_code == 200 and "not in this project" in r.json()["message"]
        # The same delivery again (same webhook-id, inside the signature's 5-minute window).
        batch_id = next(iter(openai_emu.state.batches))
        body, headers = signed_request(WHSEC, batch_event(batch_id, "completed", 0))
        first = httpx.post(f"{url}/api/openai/webhook", content=body, headers=headers)
        replay = httpx.post(f"{url}/api/openai/webhook", content=body, headers=headers)
        assert first.status_code == replay.status_code == 200
        assert "woke job" in first.json()["message"]
        assert "already handled" in replay.json()["message"]


def _batch_reads(emu: OpenAIEmulator) -> int:
    """List pages and retrieves: every time the service read batches' states from OpenAI."""
    lists = emu.calls.get("/v1/batches", 0) - len(emu.state.batches)  # the rest are creates
    retrieves = sum(
        n
        for path, n in emu.calls.items()
        if path.startswith("/v1/batches/") and not path.endswith("/cancel")
    )
    return lists + retrieves


def test_with_webhooks_batches_are_read_when_they_end_not_polled(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    """With OPENAI_WEBHOOK_SECRET set the follower does not poll every poll_interval in the
    foreground: it wakes (every max_poll_interval) on the copy the create answered, and the
    batch.completed events make it read the batches once, to route them."""
    settings = service.model_copy(
        update={
            "openai_webhook_secret": SecretStr(WHSEC),
            "poll_interval": 0.05,  # without webhooks: a read every 50 ms
            "max_poll_interval": 0.2,  # the follower wakes often: each wake could read
            "poll_timeout": 3600,
        }
    )
    runtime().settings = settings
    with serve(create_app(settings, manage_engine=False)) as url:
        openai_emu.send_webhooks(f"{url}/api/openai/webhook", WHSEC)
        openai_emu.faults.default_batch = BatchPlan(in_progress=600)
        job_id = httpx.post(f"{url}/api/recipes", json={"prompt": "gnocchi"}).json()["job_id"]
        wait_job(url, job_id, ("generating",))
        follower = next(iter(openai_emu.state.batches.values())).metadata["batchcook_job"]

        def looks() -> int:
            steps = DBOS.list_workflow_steps(follower)
            return sum(1 for s in steps if s["function_name"] == "poll_round")

        poll(lambda: looks() >= 5 or None, timeout=20, what="five looks by the follower")
        assert _batch_reads(openai_emu) == 0  # five looks, all at the create's copy
        openai_emu.advance(600)  # both batches end; the emulator posts batch.completed
        done = wait_job(url, job_id, timeout=10)
        assert done["status"] == "succeeded", done["error"]
        # One read per event at most (none to learn whose batch it is, none to route it).
        assert 1 <= _batch_reads(openai_emu) <= 2, openai_emu.calls


def test_dry_run_estimates_and_sends_nothing(
    api: tuple[str, Settings], openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    url, _ = api
    r = httpx.post(f"{url}/api/recipes?dry_run=1", json={"prompt": "paella"}, headers=AUTH)
    assert r.status_code == 200, r.text
    estimate = r.json()
    assert estimate["message"] == "dry run: nothing was sent"
    [parts] = [e["parts"] for e in estimate["estimates"]]
    assert [(p["endpoint"], p["tier"]) for p in parts] == [
        ("/v1/responses", "batch"),
        ("/v1/images/generations", "batch"),
    ]
    assert openai_emu.calls == {}
    listed = httpx.get(f"{url}/api/jobs", headers=AUTH).json()["jobs"]
    assert "paella" not in [j["prompt"] for j in listed]  # no job was started
    # The estimate is an upper bound of what the job then costs.
    created = httpx.post(f"{url}/api/recipes", json={"prompt": "paella"}, headers=AUTH).json()
    done = wait_job(url, created["job_id"])
    assert 0 < done["cost_usd"] <= estimate["usd_at_most"]


def test_budget_cap_refuses_before_anything_is_sent(
    service: Settings, openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    spent = spend.spent_since(service.database(), budget.periods(time.time())["daily"])
    one = budget.estimate_job(
        Job(id="create-x", kind="create", prompt="ramen", mode="batch"), service
    ).usd
    capped = service.model_copy(update={"daily_budget_usd": spent + 1.5 * one})
    with serve(create_app(capped, manage_engine=False)) as url:
        first = httpx.post(f"{url}/api/recipes", json={"prompt": "ramen"})
        assert first.status_code == 202, first.text
        second = httpx.post(f"{url}/api/recipes", json={"prompt": "udon"})
        assert second.status_code == 429
        error = second.json()["error"]
        assert error["code"] == "budget_exceeded"
        assert "BATCHCOOK_DAILY_BUDGET_USD" in error["message"] and "today" in error["message"]
        done = wait_job(url, first.json()["job_id"])
        assert done["status"] == "succeeded", done["error"]
        assert len(openai_emu.state.batches) == 2  # the first job's; none for the refused one
        # The actual cost replaced the reservation, so the day's spend is what was paid.
        after = spend.spent_since(service.database(), budget.periods(time.time())["daily"])
        assert after == pytest.approx(spent + done["cost_usd"], abs=1e-5)


def test_cancel_stops_the_job_and_its_batches(
    api: tuple[str, Settings], openai_emu: OpenAIEmulator, notion_emu: NotionEmulator
) -> None:
    url, _ = api
    openai_emu.faults.default_batch = BatchPlan(in_progress=3600)
    created = httpx.post(f"{url}/api/recipes", json={"prompt": "cassoulet"}, headers=AUTH).json()
    wait_job(url, created["job_id"], ("generating",))
    r = httpx.post(f"{url}/api/jobs/{created['job_id']}/cancel", headers=AUTH)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "failed" and job["error"]["type"] == "JobCancelled"
    assert {b.status for b in openai_emu.state.batches.values()} <= {"cancelling", "cancelled"}
    assert len(openai_emu.state.batches) == 2
    again = httpx.post(f"{url}/api/jobs/{created['job_id']}/cancel", headers=AUTH)
    assert again.status_code == 409 and "already ended" in again.json()["error"]["message"]
    assert httpx.post(f"{url}/api/jobs/create-nope/cancel", headers=AUTH).status_code == 404
    assert notion_emu.pages() == []
    # A cancelled job is a failed one: it can be tried again (a new job, reusing nothing here).
    retried = httpx.post(f"{url}/api/jobs/{created['job_id']}/retry", headers=AUTH)
    assert retried.status_code == 202, retried.text
    assert retried.json()["job_id"].startswith("create-retry-")
    again = httpx.post(f"{url}/api/jobs/{retried.json()['job_id']}/retry", headers=AUTH)
    assert again.status_code == 409 and "only a failed job" in again.json()["error"]["message"]
    assert httpx.post(f"{url}/api/jobs/create-nope/retry", headers=AUTH).status_code == 404
    httpx.post(f"{url}/api/jobs/{retried.json()['job_id']}/cancel", headers=AUTH)


def test_docs_describe_bodies_status_codes_and_the_key(api: tuple[str, Settings]) -> None:
    url, _ = api
    schema = httpx.get(f"{url}/openapi.json").json()
    create = schema["paths"]["/api/recipes"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert body["required"] == ["prompt"] and "request_id" in body["properties"]
    assert "202" in create["responses"] and "200" not in create["responses"]
    assert {"401", "422", "429"} <= set(create["responses"])
    assert create["security"] == [{"bearer": []}]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    bulk = schema["paths"]["/api/recipes/bulk"]["post"]["requestBody"]["content"]
    assert bulk["application/json"]["schema"]["$ref"].endswith("/BulkCreate")
    assert "security" not in schema["paths"]["/api/recipes/modify"]["post"]  # signed instead
    assert httpx.get(f"{url}/docs").status_code == 200
