"""Dependencies point one way: the library layers never import the layers above them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

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


def test_the_library_packages_together_import_nothing_above_them() -> None:
    loaded = _loaded_after("batchcook.generation, batchcook.stores")
    assert [m for m in loaded if m.startswith(ABOVE)] == []


def _function_level_imports(path: Path) -> list[str]:
    """``import batchcook…`` inside a function: how a cycle is hidden (type-only imports
    under ``if TYPE_CHECKING:`` are module level and not counted)."""
    found = []
    for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith("batchcook")]
    return found


def test_no_function_imports_ours_except_the_command_line() -> None:
    """Only ``cli.py`` may put off an import (DBOS, for commands that run on this machine):
    everywhere else, dependencies are at the top, where a cycle would show."""
    package = Path(__file__).parents[1] / "src" / "batchcook"
    modules = [p for p in package.rglob("*.py") if p != package / "cli.py"]
    assert len(modules) > 100
    assert [hit for p in modules for hit in _function_level_imports(p)] == []


def test_instrumentation_imports_nothing_of_ours() -> None:
    assert _loaded_after("batchcook.instrument") == ["batchcook", "batchcook.instrument"]
