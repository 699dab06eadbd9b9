"""One error tree: every exception batchcook defines descends from ``BatchcookError`` (so a
caller catches ours apart from bugs) and answers ``retryable`` as a plain attribute."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import batchcook
from batchcook.errors import BatchcookError
from batchcook.generation.errors import BatchTimeoutError, RefusalError
from batchcook.inputs import InputError
from batchcook.stores.notion.errors import NotionAPIError

# HTTP answers of the API, not errors of ours (see batchcook/errors.py).
RESPONSES = {"HTTPProblem", "BodyTooLarge", "HandshakeRefused"}


def _our_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(batchcook.__path__, "batchcook."):
        if info.name.startswith(("batchcook.testing", "batchcook.__main__")):
            continue  # the emulators raise what OpenAI and Notion would
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
            ):
                found[f"{info.name}.{name}"] = value
    return found


def test_every_error_we_define_is_a_batchcook_error() -> None:
    ours = _our_exceptions()
    assert len(ours) > 20  # the walk found the tree
    strays = [
        name
        for name, cls in ours.items()
        if not issubclass(cls, BatchcookError) and cls.__name__ not in RESPONSES
    ]
    assert strays == []


def test_retryable_is_an_attribute_on_every_error() -> None:
    assert BatchTimeoutError(["batch_1"], {}, 300).retryable is True
    assert RefusalError.retryable is False
    assert InputError("empty prompt").retryable is False
    assert isinstance(InputError("x"), ValueError)  # callers catching ValueError still do

    def notion(status: int) -> NotionAPIError:
        return NotionAPIError("x", status=status, code="c", notion_message="m")

    assert [notion(s).retryable for s in (0, 400, 404, 429, 503)] == [
        True,
        False,
        False,
        True,
        True,
    ]
