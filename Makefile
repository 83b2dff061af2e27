# Two commands on a fresh machine: `make demo` and `make test`. Everything they need is
# installed here, idempotently (a stamp file per step, redone when its inputs change).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.airfoil-installed

.PHONY: install demo test test-unit test-fast lint typecheck bench clean services

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	@touch $@

demo: install
	@AIRFOIL_HOME=$${AIRFOIL_HOME:-$(CURDIR)/.airfoil} $(BIN)/airfoil run examples/ml_pipeline.py ml_pipeline
	@echo
	@echo "Look at the runs: AIRFOIL_HOME=$${AIRFOIL_HOME:-$(CURDIR)/.airfoil} $(BIN)/airfoil executions list"
	@echo "Serve them over HTTP: AIRFOIL_HOME=$${AIRFOIL_HOME:-$(CURDIR)/.airfoil} $(BIN)/airfoil server start"
	@echo "  then open http://127.0.0.1:8080/api/v1/projects/default/executions"
	@echo "(the web console on top of that API is not built yet; the CLI shows every run)"

services:
	@bash scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

test: install services lint typecheck
	$(BIN)/pytest -q

test-unit: install
	$(BIN)/pytest -q -m unit

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .airfoil build dist src/*.egg-info .mypy_cache .ruff_cache
