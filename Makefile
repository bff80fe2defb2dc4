# Two entry points: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lcmem-installed
DEMO_STORE := .lcmem-demo

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt 'torch==2.13.0'
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lcmem index examples/docs --store $(DEMO_STORE)
	$(BIN)/lcmem search "how does lcmem avoid embedding unchanged files again" -k 3 --store $(DEMO_STORE)
	$(BIN)/lcmem search "keyword search scores" -k 3 --mode bm25 --store $(DEMO_STORE)
	$(BIN)/lcmem ask "how does lcmem avoid embedding unchanged files again?" -k 3 --max-tokens 64 --store $(DEMO_STORE)

test: $(STAMP)
	$(BIN)/ruff check lcmem tests benchmarks examples
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check lcmem tests benchmarks examples
	$(BIN)/ruff format --check lcmem tests benchmarks examples

clean:
	rm -rf $(VENV) $(DEMO_STORE) .pytest_cache .ruff_cache
