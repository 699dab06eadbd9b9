"""What steps need at run time (settings, an OpenAI client, the recipe store).

Workflow arguments must be plain data (they are checkpointed), so live objects are reached
through this module, configured once per process by ``engine.launch``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from openai import AsyncOpenAI

from batchcook.config import Settings
from batchcook.generation.generate import openai_client
from batchcook.stores import RecipeStore
from batchcook.stores.choose import open_store

StoreFactory = Callable[[str | None], RecipeStore]


@dataclass
class Runtime:
    settings: Settings
    openai: Callable[[], AsyncOpenAI]
    store: StoreFactory  # called with a job's database id (None: the configured one)


_current: Runtime | None = None


def configure(
    settings: Settings,
    *,
    openai: Callable[[], AsyncOpenAI] | None = None,
    store: StoreFactory | None = None,
) -> Runtime:
    global _current
    _current = Runtime(
        settings, openai or (lambda: openai_client(settings)), store or _default_store(settings)
    )
    return _current


def _default_store(settings: Settings) -> StoreFactory:
    def make(database_id: str | None) -> RecipeStore:
        if database_id and settings.notion_token is not None:
            return open_store(
                settings.model_copy(update={"notion_recipes_database_id": database_id})
            )
        return open_store(settings)

    return make


def runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("batchcook workflows are not configured: call engine.launch() first")
    return _current
