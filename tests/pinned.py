"""Pinned time for tests: no test may depend on today's date (models retire; one did on
2026-12-01 and broke main).

The shared ``emu`` fixture runs on a clock pinned to ``PINNED_DAY``, and the generation tests
pass the same day to the service's retirement check. Retirement itself is tested with
``write_retiring_catalog``, a catalog made for the test, and with the clock moved explicitly
across its shutdown dates.
``make test-future`` runs the whole suite with every process's clock two years ahead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path

from batchcook.generation.catalog import Catalog, load_catalog
from batchcook.testing.openai_emulator import ManualClock, OpenAIEmulator

# Before any model the shipped catalog retires in 2026-12, so the shipped models are served.
PINNED_DAY = date(2026, 11, 20)

# Test-only models: one retiring ten days after PINNED_DAY, one already retired by then.
RETIRING_TEXT = "gpt-test-retiring"
RETIRED_IMAGE = "gpt-image-test-retired"
RETIRING_ON = PINNED_DAY + timedelta(days=10)
RETIRED_ON = PINNED_DAY - timedelta(days=30)


def at_noon(day: date) -> float:
    """Epoch seconds of noon UTC on ``day``: where a pinned emulator clock starts."""
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp()


def pinned_emulator(day: date = PINNED_DAY, catalog: Catalog | None = None) -> OpenAIEmulator:
    return OpenAIEmulator(catalog=catalog or load_catalog(), clock=ManualClock(at_noon(day)))


def write_retiring_catalog(folder: Path) -> Path:
    """The shipped catalog plus two test models whose dates are fixed relative to PINNED_DAY."""
    shipped = resources.files("batchcook.generation").joinpath("models.toml").read_text()
    text = shipped + (
        f'\n[models."{RETIRING_TEXT}"]\nendpoint = "/v1/responses"\nflex = true\n'
        f'reasoning = true\nshutdown = {RETIRING_ON.isoformat()}\nreplacement = "gpt-5.6-luna"\n'
        "prices.standard = { input = 0.2, output = 1.2 }\n"
        "prices.batch = { input = 0.1, output = 0.6 }\n"
        "prices.flex = { input = 0.1, output = 0.6 }\n"
        f'\n[models."{RETIRED_IMAGE}"]\nendpoint = "/v1/images/generations"\n'
        f'shutdown = {RETIRED_ON.isoformat()}\nreplacement = "gpt-image-2"\n'
        "prices.standard = { input = 5.0, image_input = 8.0, output = 30.0 }\n"
        "prices.batch = { input = 2.5, image_input = 4.0, output = 15.0 }\n"
    )
    path = folder / "models.toml"
    path.write_text(text)
    return path
