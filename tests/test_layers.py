"""Dependencies point one way: the library layers never import the layers above them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

ABOVE = ("batchcook.workflows", "batchcook.api", "batchcook.cli", "batchcook.web")


def _loaded_after(module: str) -> list[str]:
    code = (
        f"import sys, json, {module}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('batchcook'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize(
    "module",
    [
        "batchcook.generation.generate",
        "batchcook.generation.batch",
        "batchcook.stores.notion",
        "batchcook.stores.local",
        "batchcook.recipes.jsonld",
    ],
)
def test_generation_stores_and_recipes_import_nothing_above_them(module: str) -> None:
    assert [m for m in _loaded_after(module) if m.startswith(ABOVE)] == []


def test_instrumentation_imports_nothing_of_ours() -> None:
    assert _loaded_after("batchcook.instrument") == ["batchcook", "batchcook.instrument"]
