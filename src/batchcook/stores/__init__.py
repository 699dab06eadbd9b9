"""Where recipes live: Notion (``stores.notion``) or local SQLite + files (``stores.local``).

``open_store`` picks one from the settings: Notion when a token is set, else local.
"""

from __future__ import annotations

from batchcook.config import Settings
from batchcook.stores.base import Image, RecipeNotFound, RecipeStore, StoredRecipe, StoreError

__all__ = ["Image", "RecipeNotFound", "RecipeStore", "StoreError", "StoredRecipe", "open_store"]


def open_store(settings: Settings) -> RecipeStore:
    """The Notion store when ``NOTION_TOKEN`` is set, else the embedded local store."""
    # Lazy: both stores import this package (a cycle), and Notion's pulls in heavy SDKs.
    if settings.notion_token is not None:
        from batchcook.stores.notion import NotionStore

        return NotionStore.from_settings(settings)
    from batchcook.stores.local import LocalStore

    return LocalStore(settings.data_dir)
