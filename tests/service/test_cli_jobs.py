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
    spent = json.loads(run(batchcook("costs", "--json"), world.env, world.tmp).stdout)
    assert {row["tier"] for row in spent} == {"batch"}
    assert sum(r["usd"] for r in spent) == pytest.approx(job["cost_usd"], abs=1e-5)
    assert all(r["saved_usd"] == pytest.approx(r["usd"]) for r in spent)  # batch: half price
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


def test_create_from_a_file_queues_one_job_a_prompt(world: World) -> None:
    prompts = world.tmp / "prompts.txt"
    prompts.write_text("# dinner party\nmushroom risotto\n\n  tiramisu  \ngazpacho\n")
    args = ("create", "--file", str(prompts), "--request-id", "party", "--json")
    queued = run(batchcook(*args), world.env, world.tmp)
    assert queued.returncode == 0, queued.stdout + queued.stderr
    assert json.loads(queued.stdout) == ["create-party-0", "create-party-1", "create-party-2"]
    listed = run(batchcook("jobs", "--status", "queued", "--json"), world.env, world.tmp)
    assert sorted(j["prompt"] for j in json.loads(listed.stdout)) == [
        "gazpacho",
        "mushroom risotto",
        "tiramisu",
    ]
    again = run(batchcook(*args), world.env, world.tmp)  # the same file again: the same jobs
    assert json.loads(again.stdout) == json.loads(queued.stdout)
    assert world.openai.calls == {}  # queued for a worker: nothing sent yet


def test_a_file_with_one_bad_prompt_starts_nothing(tmp_path: Path) -> None:
    openai, notion = OpenAIEmulator(), NotionEmulator()
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("ramen\n" + "x" * 2001 + "\npho\n")
    with serve(openai.app) as openai_url, serve(notion.app) as notion_url:
        database = f"sqlite:///{tmp_path / 'system.sqlite'}"
        env = process_env(database, tmp_path, openai_url, notion_url, notion)
        out = run(batchcook("create", "--file", str(prompts)), env, tmp_path)
        both = run(batchcook("create", "soup", "--file", str(prompts)), env, tmp_path)
    assert out.returncode == 2 and "prompt 2: the prompt is 2,001 characters" in out.stderr
    assert both.returncode == 2 and "not both" in both.stderr
    assert openai.calls == {} and not (tmp_path / "system.sqlite").exists()


def test_dry_run_and_budget_cap_send_nothing(tmp_path: Path) -> None:
    openai, notion = OpenAIEmulator(), NotionEmulator()
    with serve(openai.app) as openai_url, serve(notion.app) as notion_url:
        database = f"sqlite:///{tmp_path / 'system.sqlite'}"
        env = process_env(database, tmp_path, openai_url, notion_url, notion)
        dry = run(batchcook("create", "make me soup", "--dry-run", "--json"), env, tmp_path)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert json.loads(dry.stdout)["usd_at_most"] > 0
        assert not (tmp_path / "system.sqlite").exists()  # nothing opened, nothing sent
        capped = {**env, "BATCHCOOK_DAILY_BUDGET_USD": "0.001"}
        refused = run(batchcook("create", "make me soup", "--wait"), capped, tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert "BATCHCOOK_DAILY_BUDGET_USD is $0.00" in message and "Nothing was sent" in message
    assert openai.calls == {}
    assert {r.method for r in notion.journal} <= {"GET"}  # the preflight read, nothing written


def test_cancel_a_queued_job(world: World) -> None:
    queued = run(batchcook("create", "coq au vin", "--request-id", "c1"), world.env, world.tmp)
    assert queued.returncode == 0, queued.stderr
    cancelled = run(batchcook("cancel", "create-c1"), world.env, world.tmp)
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    assert cancelled.stdout.strip() == "create-c1 cancelled"
    again = run(batchcook("cancel", "create-c1"), world.env, world.tmp)
    assert "already ended (failed)" in again.stdout
    shown = json.loads(run(batchcook("jobs", "create-c1", "--json"), world.env, world.tmp).stdout)
    assert shown["status"] == "failed" and shown["error"]["type"] == "JobCancelled"
    missing = run(batchcook("cancel", "create-nope"), world.env, world.tmp)
    assert missing.returncode == 1 and "no job 'create-nope'" in missing.stderr
    assert world.openai.calls == {}
