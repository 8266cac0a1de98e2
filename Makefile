# Set-up, gates and the demo. Everything runs inside a project virtualenv (.venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TS := wrappers/typescript
# `make check EXTRAS=dev` skips the llama.cpp build; tests that need the local model then skip.
EXTRAS ?= dev,local

.PHONY: install check lint typecheck contracts test test-engine test-wrappers demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	@echo "Installing amplifier-agent with the extras [$(EXTRAS)] into $(VENV)."
	@case ",$(EXTRAS)," in *,local,*) \
	  echo "The first install compiles llama-cpp-python from source: about 5 minutes on 2 cores,"; \
	  echo "with no output meanwhile. Later installs reuse pip's cached wheel and take seconds.";; \
	esac
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]' -e wrappers/python
	cd $(TS) && npm ci --no-audit --no-fund --loglevel=error

lint:
	$(BIN)/ruff format --check src tests testkit bench wrappers/python conformance
	$(BIN)/ruff check src tests testkit bench wrappers/python conformance

typecheck:
	$(BIN)/mypy --strict src
	cd wrappers/python && ../../$(BIN)/mypy --strict src

contracts:
	$(BIN)/lint-imports

test-engine:
	$(BIN)/pytest -q

test-wrappers:
	$(BIN)/pytest -q wrappers/python/tests
	cd $(TS) && npm test

test: test-engine test-wrappers

check: install lint contracts typecheck test

demo: install
	$(BIN)/amplifier-agent models list --provider local --output table
	$(BIN)/amplifier-agent run -n --config examples/local.json "Say hello in five words."

bench: install
	$(BIN)/python bench/version_startup.py
	$(BIN)/python bench/run_latency.py
	$(BIN)/python bench/stdio_turns.py
	$(BIN)/python bench/sdk_turns.py
	$(BIN)/python bench/http_ttft.py
	$(BIN)/python bench/http_hot_path.py --with-floor
	$(BIN)/python bench/server_memory.py
	$(BIN)/python bench/provider_stream.py
	$(BIN)/python bench/metrics_overhead.py
	$(BIN)/python bench/store_latency.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache $(TS)/node_modules
