"""What steps need at run time (settings, an OpenAI client, the recipe store).

Workflow arguments must be plain data (they are checkpointed), so live objects are reached
through this module, configured once per process by ``engine.launch``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from openai import AsyncOpenAI

from batchcook.config import Settings
from batchcook.generation.generate import openai_client
from batchcook.stores import RecipeStore, open_store


@dataclass
class Runtime:
    settings: Settings
    openai: Callable[[], AsyncOpenAI] = field(default=lambda: AsyncOpenAI())
    store: Callable[[], RecipeStore] = field(default=lambda: open_store(Settings()))


_current: Runtime | None = None


def configure(
    settings: Settings,
    *,
    openai: Callable[[], AsyncOpenAI] | None = None,
    store: Callable[[], RecipeStore] | None = None,
) -> Runtime:
    global _current
    _current = Runtime(
        settings,
        openai or (lambda: openai_client(settings)),
        store or (lambda: open_store(settings)),
    )
    return _current


def runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("batchcook workflows are not configured: call engine.launch() first")
    return _current
