"""The Notion recipe store (``NotionStore``) and the pieces it is built from."""

from batchcook.stores.notion.errors import (
    AmbiguousWriteError,
    NotionAPIError,
    SchemaMismatchError,
)
from batchcook.stores.notion.pacing import Pacer
from batchcook.stores.notion.retry import RetryPolicy
from batchcook.stores.notion.store import NotionStore

__all__ = [
    "AmbiguousWriteError",
    "NotionAPIError",
    "NotionStore",
    "Pacer",
    "RetryPolicy",
    "SchemaMismatchError",
]
