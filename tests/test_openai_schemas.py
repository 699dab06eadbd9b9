"""The emulator's schemas are an exact extract of the official spec in shared/specs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from batchcook.testing.openai_emulator.validation import schemas

ROOT = Path(__file__).parents[1]
SPECS = ROOT.parent / "shared" / "specs"


@pytest.mark.skipif(not SPECS.exists(), reason="shared/specs is not beside this checkout")
def test_extract_matches_the_spec() -> None:
    spec = importlib.util.spec_from_file_location(
        "extract", ROOT / "scripts/extract_openai_schemas.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = module.extract(SPECS)
    assert fresh["$defs"] == schemas(), "run scripts/extract_openai_schemas.py to refresh"


def test_extract_has_the_batch_line_schemas() -> None:
    defs = schemas()
    for name in (
        "CreateResponse",
        "CreateImageRequest",
        "CreateBatchRequest",
        "Batch",
        "BatchRequestInput",
        "BatchRequestOutput",
    ):
        assert name in defs
    endpoints = defs["CreateBatchRequest"]["properties"]["endpoint"]["enum"]
    assert "/v1/images/generations" in endpoints
    assert "/v1/responses/parse" not in endpoints
    json.dumps(defs)  # plain JSON, no YAML dates left
