"""Extract the request/response schemas the OpenAI emulator validates against.

The official spec is 3 MB of YAML (seconds to load) and is not shipped with the package, so
the schemas we need — and everything they reference — are copied into
``src/batchcook/testing/openai_emulator/openai_schemas.json`` as plain JSON Schema
(2020-12). The test
``tests/test_openai_schemas.py`` re-runs this against ``../shared/specs`` so the copy can
never drift from the spec.

Usage:
    python scripts/extract_openai_schemas.py [SPECS_DIR] \
        > src/batchcook/testing/openai_emulator/openai_schemas.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

CURRENT = "openai-openapi.yml"
OLD = "openai-openapi-2025-04.yaml"  # the last version with the batch line schemas
ROOTS = [
    "CreateResponse",
    "Response",
    "CreateImageRequest",
    "ImagesResponse",
    "CreateBatchRequest",
    "Batch",
    "ListBatchesResponse",
    "OpenAIFile",
    "CreateFileRequest",
    "DeleteFileResponse",
    "ErrorResponse",
]
OLD_ROOTS = ["BatchRequestInput", "BatchRequestOutput"]
DROP = {"description", "example", "examples", "title", "deprecated", "discriminator"}


def _load(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open() as f:
        data: dict[str, Any] = yaml.load(f, Loader=loader)
    return data


def _refs(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out.append(value.rsplit("/", 1)[-1])
            else:
                out.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_refs(value))
    return out


def _closure(schemas: dict[str, Any], roots: list[str]) -> list[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(_refs(schemas[name]))
    return sorted(seen)


def _clean(node: Any) -> Any:
    """Strip prose, rewrite refs to $defs and turn OpenAPI 3.0 ``nullable`` into JSON Schema."""
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROP or key.startswith("x-"):
            continue
        if key == "$ref":
            out[key] = "#/$defs/" + value.rsplit("/", 1)[-1]
        elif key == "properties":
            out[key] = {name: _clean(sub) for name, sub in value.items()}
        else:
            out[key] = _clean(value)
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "anyOf" in out or "oneOf" in out or "$ref" in out or "allOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def extract(specs: Path) -> dict[str, Any]:
    current = _load(specs / CURRENT)["components"]["schemas"]
    old = _load(specs / OLD)["components"]["schemas"]
    defs = {name: _clean(current[name]) for name in _closure(current, ROOTS)}
    for name in _closure(old, OLD_ROOTS):
        defs.setdefault(name, _clean(old[name]))
    return {
        "$comment": "Extracted from shared/specs by scripts/extract_openai_schemas.py.",
        "$defs": defs,
    }


def main() -> None:
    specs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[2] / "shared/specs"
    json.dump(extract(specs), sys.stdout, indent=None, sort_keys=True, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
