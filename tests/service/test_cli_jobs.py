"""``batchcook create/modify/jobs`` as real processes, standalone (the workflow runs inside
the CLI process) against both emulators, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_procs import World, batchcook, process_env, run, world_fixture  # noqa: F401

from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import BatchPlan, OpenAIEmulator
from batchcook.testing.server import serve

SECRETS = ("sk-test-secret-key", "secret_emulator_token")


def no_secrets(*outputs: str) -> None:
    for out in outputs:
        for secret in SECRETS:
            assert secret not in out


def test_create_wait_json_then_jobs_then_modify(world: World) -> None:
    world.openai.faults.default_batch = BatchPlan()  # done at the first poll
    args = ("create", "make me pasta carbonara", "--request-id", "r1", "--wait", "--json")
    created = run(batchcook(*args), world.env, world.tmp)
    assert created.returncode == 0, created.stdout + created.stderr
    job = json.loads(created.stdout)
    assert job["id"] == "create-r1" and job["status"] == "succeeded"
    assert [b["status"] for b in job["batches"]] == ["completed", "completed"]
    assert job["cost_usd"] > 0 and job["error"] is None
    pages = world.notion.pages()
    assert [p.id for p in pages] == [job["page_id"]]
    assert "generations" in created.stderr and "succeeded" in created.stderr  # live status
    no_secrets(created.stdout, created.stderr)

    again = run(batchcook(*args), world.env, world.tmp)  # same request id: same job
    assert again.returncode == 0 and json.loads(again.stdout)["page_id"] == job["page_id"]
    assert len(world.openai.state.batches) == 2 and len(world.notion.pages()) == 1

    listed = run(batchcook("jobs"), world.env, world.tmp)
    assert listed.returncode == 0, listed.stderr
    assert "create-r1  succeeded" in listed.stdout
    one = run(batchcook("jobs", "create-r1", "--json"), world.env, world.tmp)
    assert json.loads(one.stdout)["page_id"] == job["page_id"]
    missing = run(batchcook("jobs", "create-nope"), world.env, world.tmp)
    assert missing.returncode == 1 and "no job 'create-nope'" in missing.stderr

    modified = run(
        batchcook("modify", job["page_id"], "make it vegan", "--wait", "--json"),
        world.env,
        world.tmp,
    )
    assert modified.returncode == 0, modified.stdout + modified.stderr
    change = json.loads(modified.stdout)
    assert change["kind"] == "modify" and change["status"] == "succeeded"
    assert change["title"] == "Vegan Pasta Carbonara"  # the record follows the new title
    assert change["page_id"] == job["page_id"] and len(world.notion.pages()) == 1
    assert len(world.openai.state.batches) == 4
    assert "Updated" in world.notion.render_text(job["page_id"])


def test_a_failed_job_exits_non_zero_with_its_error(world: World) -> None:
    world.openai.faults.default_batch = BatchPlan(force="expired")
    out = run(batchcook("create", "make me soup", "--wait"), world.env, world.tmp)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "failed (step" in out.stderr and "expired" in out.stderr
    assert world.notion.pages() == []  # never a half-written page
    failed = run(batchcook("jobs", "--status", "failed", "--json"), world.env, world.tmp)
    [job] = json.loads(failed.stdout)
    assert job["status"] == "failed" and "expired" in job["error"]["message"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "   "], "the prompt is empty"),
        (["create", "x" * 2001], "the prompt is 2,001 characters; the limit is 2,000"),
        (["create", "soup", "--mode", "turbo"], "unknown mode 'turbo': use one of batch, flex"),
        (["modify", "page-1", ""], "the request is empty"),
        (["modify", " ", "make it vegan"], "the page id is empty"),
    ],
)
def test_bad_input_exits_2_before_anything_reaches_openai(
    tmp_path: Path, args: list[str], message: str
) -> None:
    openai, notion = OpenAIEmulator(), NotionEmulator()
    with serve(openai.app) as openai_url, serve(notion.app) as notion_url:
        database = f"sqlite:///{tmp_path / 'system.sqlite'}"
        env = process_env(database, tmp_path, openai_url, notion_url, notion)
        out = run(batchcook(*args), env, tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in " ".join(out.stderr.split())
    assert openai.calls == {} and notion.journal == []
    assert not (tmp_path / "system.sqlite").exists()  # not even the database was opened
