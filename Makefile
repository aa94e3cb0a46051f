# The two set-up commands: `make serve` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck unit install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# Pin torch to the CPU build first so the project's range resolves to it, not a CUDA wheel.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/doodle-party serve

lint: $(STAMP)
	$(BIN)/ruff check server game inference tests benchmarks
	$(BIN)/ruff format --check server game inference tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy game server inference

unit: $(STAMP)
	bash scripts/install-browser.sh
	$(BIN)/pytest -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
