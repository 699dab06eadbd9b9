"""``batchcook notion init``: through the CLI, against the Notion emulator over HTTP.

The database it makes must be one the store writes recipes into, and ``--fix`` must add
what is missing without touching what the user made.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from batchcook.cli import app
from batchcook.config import get_settings
from batchcook.recipes import notion_mapping as m
from batchcook.recipes.fixtures import carbonara
from batchcook.stores.notion import NotionStore, Pacer, RetryPolicy
from batchcook.testing.notion_emulator import NotionEmulator

MISSING = "5b0a4c1e-0000-4000-8000-000000000000"
WANTED = {**m.required_schema(), **m.OPTIONAL_PROPERTIES}


@pytest.fixture
def env(
    emulator: NotionEmulator, notion_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The settings a user would have: a token and, here, the emulator's address. Nothing
    from the outer environment or a stray ``.env`` leaks in."""
    for name in list(os.environ):
        if name.startswith(("NOTION_", "BATCHCOOK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return {
        "NOTION_TOKEN": emulator.token,
        "NOTION_BASE_URL": notion_url,
        "BATCHCOOK_NOTION_REQUESTS_PER_SECOND": "1000",
        "BATCHCOOK_NOTION_RETRY_DELAY": "0.01",
    }


def init(env: dict[str, str], *args: str) -> Result:
    get_settings.cache_clear()  # the CLI reads settings once per process; here, per run
    try:
        return CliRunner().invoke(app, ["notion", "init", *args], env=env)
    finally:
        get_settings.cache_clear()


def types(emulator: NotionEmulator, source_id: str) -> dict[str, str]:
    properties = emulator.workspace.data_sources[source_id].properties
    return {name: p["type"] for name, p in properties.items()}


def printed(result: Result) -> dict[str, str]:
    keys = ("database id:", "data source id:", "url:")
    lines = [line.split(":", 1) for line in result.stdout.splitlines() if line.startswith(keys)]
    return {key: value.strip() for key, value in lines}


async def store_writes_a_recipe(emulator: NotionEmulator, url: str, database_id: str) -> Any:
    """What the service does with NOTION_RECIPES_DATABASE_ID: its schema check, then a page."""
    store = NotionStore(
        token=emulator.token,
        database_id=database_id,
        base_url=url,
        pacer=Pacer(rate=1000),
        retry=RetryPolicy(max_retries=1, base_delay=0.01),
    )
    try:
        source_id = await store.data_source_id()
        stored = await store.create(carbonara(), None, job_id="job-1")
        return source_id, stored, await store.read(stored.id)
    finally:
        await store.aclose()


# --- init ------------------------------------------------------------------------------


def test_init_creates_every_property_batchcook_writes(
    emulator: NotionEmulator, env: dict[str, str]
) -> None:
    parent = emulator.add_page("Kitchen")
    result = init(env, "--parent", parent, "--title", "My recipes")
    assert result.exit_code == 0, result.output
    ids = printed(result)
    database = emulator.workspace.databases[ids["database id"]]
    assert database.title == "My recipes"
    assert database.parent == {"type": "page_id", "page_id": parent}
    assert database.data_source_ids == [ids["data source id"]]
    assert types(emulator, ids["data source id"]) == WANTED
    status = emulator.workspace.data_sources[ids["data source id"]].properties[m.STATUS]
    assert [o["name"] for o in status["select"]["options"]] == list(m.STATUS_VALUES)
    assert ids["url"].endswith(ids["database id"].replace("-", ""))
    assert result.stdout.splitlines()[-1] == f"NOTION_RECIPES_DATABASE_ID={ids['database id']}"
    assert [(r.method, r.path) for r in emulator.journal] == [("POST", "/v1/databases")]


def test_the_printed_ids_are_what_the_store_needs(
    emulator: NotionEmulator, env: dict[str, str], notion_url: str
) -> None:
    link = f"https://www.notion.so/Kitchen-{emulator.add_page('Kitchen').replace('-', '')}"
    result = init(env, "--parent", link, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert set(answer) == {"database_id", "data_source_id", "url"}
    source_id, stored, read = asyncio.run(
        store_writes_a_recipe(emulator, notion_url, answer["database_id"])
    )
    assert source_id == answer["data_source_id"]
    assert emulator.workspace.pages[stored.id].data_source_id == answer["data_source_id"]
    assert read == m.normalise_for_notion(carbonara())


def test_init_names_the_job_property_as_configured(
    emulator: NotionEmulator, env: dict[str, str]
) -> None:
    env["BATCHCOOK_NOTION_JOB_PROPERTY"] = "Job"
    result = init(env, "--parent", emulator.add_page(), "--json")
    assert result.exit_code == 0, result.output
    made = types(emulator, json.loads(result.stdout)["data_source_id"])
    assert made["Job"] == "rich_text" and m.DEFAULT_JOB_PROPERTY not in made


# --- --fix -----------------------------------------------------------------------------


def test_fix_adds_what_is_missing_and_leaves_the_users_properties_alone(
    emulator: NotionEmulator, env: dict[str, str], notion_url: str
) -> None:
    recipes = emulator.workspace.recipes.properties
    emulator.set_property("Difficulty", None)
    emulator.set_property(m.STATUS, None)
    emulator.set_property("Rating", "number")  # the user's own
    cook_time = recipes.pop("Cook Time (min)")  # renamed by the user
    recipes["Cook time"] = {**cook_time, "name": "Cook time"}
    result = init(env, "--fix", emulator.recipes_database_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "Added 'Difficulty' (select), 'Cook Time (min)' (number), 'Status' (select)."
    )
    [patch] = [r for r in emulator.journal if r.method == "PATCH"]
    assert set(patch.body["properties"]) == {"Difficulty", "Cook Time (min)", m.STATUS}
    assert recipes["Rating"]["type"] == "number"
    assert recipes["Cook time"] == {**cook_time, "name": "Cook time"}
    assert types(emulator, emulator.recipes_data_source_id) == {
        **WANTED,
        "Rating": "number",
        "Cook time": "number",
    }
    asyncio.run(store_writes_a_recipe(emulator, notion_url, emulator.recipes_database_id))
    again = init(env, "--fix", emulator.recipes_database_id, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["database_id"] == (
        emulator.recipes_database_id
    )
    assert [r.method for r in emulator.journal].count("PATCH") == 1  # nothing left to add


def test_fix_reports_a_property_of_the_wrong_type_and_leaves_it(
    emulator: NotionEmulator, env: dict[str, str]
) -> None:
    emulator.set_property("Prep Time (min)", "rich_text")
    emulator.set_property("Difficulty", None)
    result = init(env, "--fix", emulator.recipes_database_id)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: property 'Prep Time (min)' is rich_text, but batchcook writes")
    assert "number" in line
    assert types(emulator, emulator.recipes_data_source_id)["Prep Time (min)"] == "rich_text"
    assert types(emulator, emulator.recipes_data_source_id)["Difficulty"] == "select"  # added


def test_fix_asks_for_the_title_property_to_be_renamed(
    emulator: NotionEmulator, env: dict[str, str]
) -> None:
    recipes = emulator.workspace.recipes.properties
    recipes["Recipe"] = {**recipes.pop(m.NAME), "name": "Recipe"}
    result = init(env, "--fix", emulator.recipes_database_id)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "title property is 'Recipe'" in line and "rename 'Recipe' to 'Name'" in line
    assert not [r for r in emulator.journal if r.method == "PATCH"]


def test_an_optional_property_of_another_type_is_only_a_note(
    emulator: NotionEmulator, env: dict[str, str]
) -> None:
    emulator.set_property(m.STATUS, "status")
    result = init(env, "--fix", emulator.recipes_database_id)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("note: optional property 'Status' is status, not select")
    assert types(emulator, emulator.recipes_data_source_id)[m.STATUS] == "status"


# --- errors: one line, exit 2, no token ----------------------------------------------


def test_an_unreachable_parent_page_is_one_line_and_exit_2(
    emulator: NotionEmulator, env: dict[str, str]
) -> None:
    """In a process of its own, as a user runs it: no traceback, no token."""
    hidden = emulator.add_page("Private", shared=False)
    result = subprocess.run(
        [sys.executable, "-m", "batchcook.cli", "notion", "init", "--parent", hidden],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: Notion has no page {hidden} that the integration can reach")
    assert "Connections" in line
    assert emulator.token not in result.stderr
    assert emulator.workspace.databases.keys() == {emulator.recipes_database_id}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--parent", MISSING], f"Notion has no page {MISSING}"),
        (["--fix", MISSING], f"Notion has no database {MISSING}"),
        (["--parent", "my recipes page"], "is not a Notion page id"),
        (["--fix", "https://example.com/x"], "is not a Notion database id"),
        ([], "give --parent PAGE_ID"),
        (["--parent", MISSING, "--fix", MISSING], "not both"),
    ],
)
def test_bad_ids_are_one_line_and_exit_2(
    emulator: NotionEmulator, env: dict[str, str], args: list[str], says: str
) -> None:
    result = init(env, *args)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # not a crash
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and says in line


def test_a_missing_token_is_one_line_and_nothing_is_sent(
    emulator: NotionEmulator, env: dict[str, str]
) -> None:
    del env["NOTION_TOKEN"]
    result = init(env, "--parent", emulator.add_page())
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: NOTION_TOKEN is not set")
    assert emulator.journal == []


def test_a_wrong_token_is_one_line_and_not_printed(
    emulator: NotionEmulator, env: dict[str, str]
) -> None:
    env["NOTION_TOKEN"] = "secret_not_the_one"
    result = init(env, "--parent", emulator.add_page())
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "Notion refused NOTION_TOKEN" in line
    assert "secret_not_the_one" not in result.output
