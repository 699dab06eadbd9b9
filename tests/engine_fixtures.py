"""The durable engine and both emulators for every test that runs jobs (``tests/service``,
``tests/web``): DBOS is one per process, so it is launched once per database backend here and
shared, never launched a second time by another directory's fixture."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dbos import DBOS
from openai import AsyncOpenAI

from batchcook.config import Settings
from batchcook.stores.notion import NotionStore, Pacer, RetryPolicy
from batchcook.testing.notion_emulator import NotionEmulator
from batchcook.testing.openai_emulator import OpenAIEmulator
from batchcook.testing.server import Switch, serve
from batchcook.workflows import engine, marks, parts, watch
from batchcook.workflows.runtime import configure

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def openai_switch() -> Iterator[tuple[Switch, str]]:
    switch = Switch()
    with serve(switch) as url:
        yield switch, url


@pytest.fixture(scope="session")
def notion_switch() -> Iterator[tuple[Switch, str]]:
    switch = Switch()
    with serve(switch) as url:
        yield switch, url


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends(*names): run on these database backends only (sqlite, postgres)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test on an engine runs once per backend, unless a ``backends`` mark narrows it
    (the gallery needs only one: it reads what any backend wrote)."""
    if "database_url" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        backends = marker.args if marker else ("sqlite", "postgres")
        metafunc.parametrize("database_url", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('dbos') / 'batchcook.sqlite'}"
        return
    if not _postgres_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"batchcook_test_{uuid.uuid4().hex[:8]}"
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_settings(
    database_url: str, openai_url: str, data_dir: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "openai_api_key": "sk-test-key",
        "openai_base_url": f"{openai_url}/v1",
        "database_url": database_url,
        "data_dir": data_dir,
        "poll_interval": 0.05,
        "poll_timeout": 30,
        "batch_window": 0,  # tests of shared batches set their own
        "queue_poll_seconds": 0.05,
        "openai_max_retries": 2,
        "database_pool_size": 10,  # leaves Postgres connections for the multi-process tests
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
def dbos_engine(
    database_url: str, openai_switch: tuple[Switch, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    # No scheduled sweep here: a tick landing inside a test would call whichever emulator is
    # current (seen: one stray GET /v1/batches); the sweep tests call sweep_once themselves.
    settings = service_settings(
        database_url, openai_switch[1], tmp_path_factory.mktemp("data"), sweep_schedule=""
    )
    engine.launch(settings)
    yield database_url
    engine.shutdown()


@pytest.fixture
def openai_emu(openai_switch: tuple[Switch, str]) -> OpenAIEmulator:
    emu = OpenAIEmulator()
    openai_switch[0].target = emu.app
    return emu


@pytest.fixture
def notion_emu(notion_switch: tuple[Switch, str]) -> NotionEmulator:
    emu = NotionEmulator(rate=None)
    notion_switch[0].target = emu.app
    return emu


def notion_store_for(emulator: NotionEmulator, url: str, **overrides: Any) -> NotionStore:
    """The store on an emulator served at ``url``, fast for tests: pacing at 1000 requests
    a second, tiny retry delays; ``overrides`` are ``NotionStore`` options."""
    options: dict[str, Any] = {
        "token": emulator.token,
        "database_id": emulator.recipes_database_id,
        "user_id": emulator.user_id,
        "base_url": url,
        "pacer": Pacer(rate=1000),
        "retry": RetryPolicy(max_retries=4, base_delay=0.01),
        "timeout": 5.0,
        **overrides,
    }
    return NotionStore(**options)


@pytest.fixture
def service(
    dbos_engine: str,
    openai_emu: OpenAIEmulator,
    notion_emu: NotionEmulator,
    openai_switch: tuple[Switch, str],
    notion_switch: tuple[Switch, str],
    tmp_path: Path,
) -> Iterator[Settings]:
    """The running engine, re-pointed at this test's fresh emulators. Afterwards whatever
    the test left running is cancelled, and the shared-batch tables and step marks emptied:
    a test that failed half-way cannot feed its jobs, rounds or parts into the next one."""
    settings = service_settings(
        dbos_engine,
        openai_switch[1],
        tmp_path,
        notion_token=notion_emu.token,  # the API's create preflight reads the database
        notion_recipes_database_id=notion_emu.recipes_database_id,
        notion_base_url=notion_switch[1],
    )

    def store(database_id: str | None = None) -> NotionStore:
        return notion_store_for(notion_emu, notion_switch[1])

    def openai() -> AsyncOpenAI:
        return AsyncOpenAI(api_key="sk-test-key", base_url=f"{openai_switch[1]}/v1", max_retries=2)

    watch.stop()  # a fresh batch watch: nothing left from an earlier test's emulator
    configure(settings, openai=openai, store=store)
    yield settings
    _leave_nothing_running(dbos_engine)


def _leave_nothing_running(database_url: str) -> None:
    for status in DBOS.list_workflows(status=["PENDING", "ENQUEUED"]):
        DBOS.cancel_workflow(status.workflow_id)
    with parts._engine(database_url).begin() as conn:
        conn.execute(parts.parts.delete())
        conn.execute(parts.batches.delete())
    with marks._engine(database_url).begin() as conn:
        conn.execute(marks.marks.delete())
