# The two set-up commands: `make serve` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck deploy-check unit install clean

$(STAMP): pyproject.toml
	@echo "Installing into $(VENV) (the first time takes a few minutes; pip's output: $(VENV)/install.log)"
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@# Pin torch to the CPU build first so the project's range resolves to it, not a CUDA wheel.
	@{ $(BIN)/pip install --upgrade pip && $(BIN)/pip install "torch==2.13.0" \
		&& $(BIN)/pip install -e ".[dev]"; } > $(VENV)/install.log 2>&1 \
		|| { tail -n 30 $(VENV)/install.log; echo "make: install failed, see $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

# `make serve PORT=9000 HOST=0.0.0.0`; the same as DOODLE_PORT / DOODLE_HOST (docs/operations.md).
serve: $(STAMP)
	@$(BIN)/doodle-party serve $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST))

lint: $(STAMP)
	$(BIN)/ruff check server game inference tests benchmarks
	$(BIN)/ruff format --check server game inference tests benchmarks

# No Docker engine here: hadolint reads the Dockerfile, and the Compose specification's JSON schema
# (shipped with check-jsonschema) checks docker-compose.yml.
deploy-check: $(STAMP)
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

typecheck: $(STAMP)
	$(BIN)/mypy game server inference

unit: $(STAMP)
	bash scripts/install-browser.sh
	$(BIN)/pytest -q

# The JavaScript client (clients/js): its lockfile's packages, then its tests against a real server,
# the AsyncAPI parser on docs/asyncapi.json, and the generated types and static copy being current.
.PHONY: js
js: $(STAMP)
	cd clients/js && npm ci --no-audit --no-fund --loglevel=error
	cd clients/js && npm test

test: lint typecheck deploy-check unit js

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
