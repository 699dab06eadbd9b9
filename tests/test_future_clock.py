"""The guard that ``make test-future`` really runs two years ahead, here and in children.

Skipped in a plain ``make test``. The kernel's file times are never shifted, so a file
written now tells the real time to compare against.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SHIFT_DAYS = os.environ.get("TEST_CLOCK_SHIFT_DAYS")

pytestmark = pytest.mark.skipif(not SHIFT_DAYS, reason="only under make test-future")


def _real_now(folder: Path) -> float:
    marker = folder / "now"
    marker.write_text("")
    return marker.stat().st_mtime


def test_this_process_runs_ahead(tmp_path: Path) -> None:
    shift = float(SHIFT_DAYS or 0) * 86400
    assert abs(time.time() - _real_now(tmp_path) - shift) < 60


def test_child_processes_run_ahead(tmp_path: Path) -> None:
    shift = float(SHIFT_DAYS or 0) * 86400
    child = subprocess.run(
        [sys.executable, "-c", "import datetime; print(datetime.datetime.now().timestamp())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert abs(float(child.stdout) - _real_now(tmp_path) - shift) < 60
