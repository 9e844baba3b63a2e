# The two commands of README.md:  `make demo`  and  `make test`.
# Both create .venv if it is missing and install what they need into it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint pytest system-deps bench clean

# Installs go through uv (from PyPI, into the venv): it downloads in parallel and installs
# about ten times faster than pip on a first install (45 s -> 7 s for the demo's packages).
# INSTALLER=pip installs with pip alone (e.g. where only a pip mirror in pip.conf is reachable:
# uv does not read pip.conf).
INSTALLER ?= uv
ifeq ($(INSTALLER),uv)
INSTALL := UV_LINK_MODE=copy $(BIN)/uv pip install --quiet --python $(BIN)/python
INSTALLER_BIN := $(BIN)/uv
else
INSTALL := $(BIN)/python -m pip install -q
INSTALLER_BIN := $(BIN)/python
endif

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "eduproject needs Python 3.11 or newer (set PYTHON=python3.12 for example)")'
	$(PYTHON) -m venv $(VENV)
ifneq ($(INSTALLER),uv)
	$(BIN)/python -m pip install -q --upgrade pip wheel
endif

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install -q uv

# Core install: enough for the demo (offline tutor, no in-process model).
$(VENV)/.core: pyproject.toml | $(INSTALLER_BIN)
	$(INSTALL) -e .
	$(BIN)/python -m eduproject.completion.install
	@touch $@

# llama-cpp-python has no wheel on the package index: it builds from source on first install
# (uv, or pip, caches the wheel afterwards). Only what the local provider uses is built: the
# llama and ggml libraries for this machine's CPU -- not the multimodal (llava/mtmd) library, tests,
# examples, tools, server binaries or OpenSSL. CMAKE_ARGS from the environment come after.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON

# Everything the tests need: dev tools, the in-process model.
$(VENV)/.dev: pyproject.toml | $(INSTALLER_BIN)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $$CMAKE_ARGS" $(INSTALL) -e '.[dev,local]'
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
