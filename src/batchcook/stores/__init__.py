"""Where recipes live: Notion (``stores.notion``) or local SQLite + files (``stores.local``).

``stores.choose.open_store`` picks one from the settings: Notion when a token is set, else
local. This package itself holds only the interface (``stores.base``), so that importing it
loads neither store.
"""

from __future__ import annotations

from batchcook.stores.base import Image, RecipeNotFound, RecipeStore, StoredRecipe, StoreError

__all__ = ["Image", "RecipeNotFound", "RecipeStore", "StoreError", "StoredRecipe"]
