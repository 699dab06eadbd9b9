"""Which store the settings ask for."""

from __future__ import annotations

from batchcook.config import Settings
from batchcook.stores.base import RecipeStore
from batchcook.stores.local import LocalStore
from batchcook.stores.notion import NotionStore


def open_store(settings: Settings) -> RecipeStore:
    """The Notion store when ``NOTION_TOKEN`` is set, else the embedded local store."""
    if settings.notion_token is not None:
        return NotionStore.from_settings(settings)
    return LocalStore(settings.data_dir)
