from datetime import date, timedelta

import pytest

from batchcook.config import Settings
from batchcook.generation.catalog import UnknownModel, Usage, load_catalog

# A fixed day: whether a model has retired is a question about a date, never about today.
TODAY = date(2026, 11, 25)


def test_defaults_are_in_catalog_and_not_retiring_soon() -> None:
    catalog = load_catalog()
    settings = Settings()
    for name in (settings.text_model, settings.image_model):
        info = catalog.get(name)
        assert not info.retiring_within(TODAY, 30), name
        assert info.batch


def test_retired_model_names_its_replacement() -> None:
    info = load_catalog().get("gpt-image-1")
    assert info.retired(TODAY)
    assert info.replacement == "gpt-image-2"
    assert not load_catalog().get("gpt-5-mini").retired(TODAY)


def test_retired_entries_stay_with_their_replacement() -> None:
    """Models retired or retiring stay in the shipped catalog, so choosing one is refused
    with "use X" instead of "unknown model"."""
    catalog = load_catalog()
    for name, shutdown, replacement in (
        ("gpt-image-1.5", date(2026, 12, 1), "gpt-image-2"),
        ("gpt-5-mini", date(2026, 12, 11), "gpt-5.6-terra"),
    ):
        info = catalog.get(name)
        assert (info.shutdown, info.replacement) == (shutdown, replacement)
        assert not info.retired(shutdown - timedelta(days=1)) and info.retired(shutdown)
        assert catalog.get(replacement).shutdown is None


def test_defaults_never_retire() -> None:
    """The defaults carry no shutdown date at all: a fresh install keeps working whatever
    the date. Give a default a shutdown date only together with a new default."""
    settings = Settings()
    for name in (settings.text_model, settings.image_model):
        assert load_catalog().get(name).shutdown is None, name


def test_batch_cost_is_half_of_standard() -> None:
    catalog = load_catalog()
    usage = Usage(input_tokens=1500, cached_input_tokens=500, output_tokens=3000)
    std = catalog.cost("gpt-5.6-luna", "standard", usage)
    assert std == pytest.approx((1000 * 0.20 + 500 * 0.02 + 3000 * 1.20) / 1e6)
    assert catalog.cost("gpt-5.6-luna", "batch", usage) == pytest.approx(std / 2)


def test_unknown_model_says_what_to_do() -> None:
    with pytest.raises(UnknownModel, match=r"models\.toml"):
        load_catalog().get("gpt-nope")
