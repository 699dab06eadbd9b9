# Two commands, nothing installed by hand: `make demo` and `make test`.
# The first run creates .venv and installs the package with its dev tools.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-future lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/batchcook demo

test: $(BIN)/.installed lint
	$(BIN)/pytest

# The same suite with every process's wall clock two years ahead (tests/future): no test may
# depend on today's date. CI runs it after `make test`.
test-future: $(BIN)/.installed
	PYTHONPATH=$(CURDIR)/tests/future TEST_CLOCK_SHIFT_DAYS=730 $(BIN)/pytest -p no:time_machine -W ignore::pytest.PytestAssertRewriteWarning

lint: $(BIN)/.installed
	$(BIN)/ruff format --check src tests scripts $(wildcard bench)
	$(BIN)/ruff check src tests scripts $(wildcard bench)
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python bench/batch_calls.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
