"""What a store can do beyond ``RecipeStore`` is a protocol the type checker and
``isinstance`` both see, not an attribute looked up with ``hasattr``."""

from __future__ import annotations

from pathlib import Path

from batchcook.stores import RecipeStore
from batchcook.stores.base import ShowsProgress, TakesComments
from batchcook.stores.local import LocalStore
from batchcook.stores.notion import NotionStore


def test_notion_shows_progress_and_takes_comments() -> None:
    store = NotionStore(token="secret_x", database_id="d" * 32, base_url="http://127.0.0.1:9")
    assert isinstance(store, RecipeStore)
    assert isinstance(store, ShowsProgress) and isinstance(store, TakesComments)


def test_the_local_store_does_neither(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert isinstance(store, RecipeStore)
    assert not isinstance(store, ShowsProgress) and not isinstance(store, TakesComments)


async def test_async_with_closes_the_store() -> None:
    """``async with store:`` is how every caller opens one: the Notion store's HTTP clients
    are closed on the way out, even when the block fails."""
    store = NotionStore(token="secret_x", database_id="d" * 32, base_url="http://127.0.0.1:9")
    try:
        async with store as opened:
            assert opened is store and not store._http.is_closed
            raise LookupError("the block failed")
    except LookupError:
        pass
    assert store._http.is_closed and store._files.is_closed
