# Set-up, gates and the demo. Everything runs inside a project virtualenv (.venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install check lint typecheck contracts test demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,local]'

lint:
	$(BIN)/ruff format --check src tests testkit bench
	$(BIN)/ruff check src tests testkit bench

typecheck:
	$(BIN)/mypy --strict src

contracts:
	$(BIN)/lint-imports

test:
	$(BIN)/pytest -q

check: install lint contracts typecheck test

demo: install
	$(BIN)/amplifier-agent models list --provider local --output table
	$(BIN)/amplifier-agent run -n --config examples/local.json "Say hello in five words."

bench: install
	$(BIN)/python bench/version_startup.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache
