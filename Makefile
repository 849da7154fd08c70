# The README's two commands: `make run` and `make test`. Everything else is a helper for them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-$(shell cksum pyproject.toml | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test fast lint fmt bench clean

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip

# What running needs: Postex and its pinned runtime dependencies (pip shows each download).
$(RUNTIME): pyproject.toml | $(VENV)/bin/python
	@echo "installing Postex and its pinned runtime dependencies into $(VENV) ..."
	@$(BIN)/python -m pip install --progress-bar on -e . | grep -v '^Requirement already satisfied' || true
	@$(BIN)/python -c 'import postex.cli.main' || { echo "installation failed: see above"; exit 1; }
	@rm -f $(VENV)/.runtime-*
	@touch $(RUNTIME)

# What testing needs on top: the test, lint and browser-driving tools (the dev extra).
$(STAMP): $(RUNTIME)
	@echo "installing the test tools (pytest, Playwright, ruff, mypy, ...) into $(VENV) ..."
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

## run: set up and run a single node on SQLite with demo data at http://127.0.0.1:8000 (PORT=8001 for another port)
run: $(RUNTIME)
	$(BIN)/postex demo $(if $(PORT),--port $(PORT))

## test: set up and run every test on two workers (pytest-xdist; WORKERS=0 for none), then the linters
WORKERS ?= 2
test: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup --durations=25
	$(MAKE) --no-print-directory lint

## fast: unit and contract tests (domain rules, the log, forms, messages, every store), under a minute
FAST := tests/kernel tests/eventlog tests/pdf tests/edi tests/contract/test_event_store.py \
	tests/test_architecture.py tests/items/test_addresses.py tests/items/test_customs.py \
	tests/items/test_item_rules.py tests/sites/test_receptacle_rules.py tests/incidents/test_hold_rules.py
fast: $(STAMP)
	$(BIN)/pytest -q $(FAST)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

## bench: list the benchmarks (`postex bench NAME --help` shows each one's options); results go
## to docs/benchmarks.md by hand, with machine and date
bench: $(RUNTIME)
	$(BIN)/postex bench --help

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
