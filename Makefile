# Two commands on a fresh machine: `make demo` and `make test`. Everything they need is
# installed here, idempotently (a stamp file per step, redone when its inputs change).
# `make demo` needs no root and no system packages; only `make test` needs Chromium (for the
# console's end-to-end tests) and PostgreSQL.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.airfoil-installed

PYC    := $(VENV)/.airfoil-bytecode
PY_SRC := $(shell find src/airfoil -name '*.py' 2>/dev/null)

.PHONY: install demo test test-unit test-fast lint typecheck bench clean services chromium console

install: $(STAMP) $(PYC) console

# The web console: npm packages (ui/package-lock.json), API types from the OpenAPI spec, and
# a Vite build into the server's static folder, each redone only when its inputs change.
UI_NPM  := ui/node_modules/.airfoil-npm-ci
CONSOLE := src/airfoil/server/static/index.html
UI_SRC  := $(shell find ui/src -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/tsconfig.json

console: $(CONSOLE)

$(UI_NPM): ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

ui/openapi.json: $(STAMP) $(wildcard src/airfoil/wire/*.py src/airfoil/server/*.py) scripts/dump_openapi.py
	$(BIN)/python scripts/dump_openapi.py $@
	@touch $@

$(CONSOLE): $(UI_NPM) ui/openapi.json $(UI_SRC)
	cd ui && npm run --silent build
	@touch $@

# The end-to-end tests drive the console in Debian's Chromium (Playwright never downloads one).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -q && apt-get install -y -q chromium)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	$(BIN)/python -m compileall -q -j 0 -x '/(tests?|testing)/' $(VENV)/lib >/dev/null
	@touch $@

# The tests' extras beyond the demo's: PyTorch's CPU build for the distributed-training tests
# (the `train` extra; torch==2.13.0 resolves to the CPU wheel, no CUDA download).
TRAIN  := $(VENV)/.airfoil-train

# Packages' own test folders are not compiled: they are never imported by a run, and torch's
# hold Python 3.12-only syntax that fails compileall on 3.11.
$(TRAIN): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[train]'
	$(BIN)/python -m compileall -q -j 0 -x '/(tests?|testing)/' $(VENV)/lib >/dev/null
	@touch $@

# An editable install is not byte-compiled, and with PYTHONDONTWRITEBYTECODE=1 (common in
# containers) Python never writes the cache itself: every `airfoil` command would compile
# the package again (seconds). Compile it here, again whenever a source file changes.
$(PYC): $(STAMP) $(PY_SRC)
	$(BIN)/python -m compileall -q -j 0 src/airfoil >/dev/null
	@touch $@

demo: install
	@AIRFOIL_HOME=$${AIRFOIL_HOME:-$(CURDIR)/.airfoil} $(BIN)/airfoil run examples/ml_pipeline.py ml_pipeline
	@echo
	@echo "Look at the runs: AIRFOIL_HOME=$${AIRFOIL_HOME:-$(CURDIR)/.airfoil} $(BIN)/airfoil executions list"
	@echo "Open the web console on these runs (http://127.0.0.1:8080/):"
	@echo "  AIRFOIL_HOME=$${AIRFOIL_HOME:-$(CURDIR)/.airfoil} $(BIN)/airfoil server start --open"
	@echo
	@echo "To type plain \`airfoil\` in this shell, put the virtual environment on PATH:"
	@echo "  source $(CURDIR)/$(VENV)/bin/activate     (or: export PATH=\"$(CURDIR)/$(BIN):\$$PATH\")"
	@echo "and keep the runs in one place: export AIRFOIL_HOME=$${AIRFOIL_HOME:-$(CURDIR)/.airfoil}"

services:
	@bash scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports

typecheck: install $(TRAIN)
	$(BIN)/mypy

# pytest runs twice, side by side, the two runs together the whole suite: every test but the
# Ray tier on two workers (pytest-xdist: most of the suite's time is waiting on servers,
# subprocesses, browsers and deliberate database outages, not computing), a test file's tests on
# one worker (they share module fixtures); and beside it the Ray tier (-m ray) serially in a
# process of its own: its session's local Ray and cluster head belong to one process, and most of
# its time is waiting for Ray processes and nodes to start (~110-130 s of CPU in a tier of
# ~260-450 s), so beside the first run it adds far less to `make test` than after it (issue 13).
# Its output is kept in a file and printed once the first run has ended; Ctrl-C stops both (the
# background run is made interruptible, see tests/conftest.py, and waited for while it tears
# its Ray down).
# The second run also takes the tests marked `serial` (schemathesis's, whose items share one node
# id: xdist would run one of them). `make test` fails if either run did. RAY_BESIDE=0 runs the
# second after the first instead. Both runs name their 40 slowest tests (--durations=40), so every
# CI log says where the suite's wall time went.
PYTEST_WORKERS ?= 2
RAY_BESIDE ?= 1

test: install $(TRAIN) chromium services lint typecheck
	@status=0; second=$$(mktemp -d); \
	if [ "$(RAY_BESIDE)" = 1 ]; then \
	  echo '$(BIN)/pytest -q --durations=40 -m "ray or serial"  (beside the next run; its output follows it)'; \
	  AIRFOIL_TEST_INTERRUPTIBLE=1 $(BIN)/pytest -q --durations=40 -m "ray or serial" --basetemp=$$second/tmp \
	    >$$second/log 2>&1 & bg=$$!; \
	  trap 'wait $$bg; cat $$second/log; rm -rf $$second; exit 130' INT; \
	  trap 'kill -INT $$bg; wait $$bg; cat $$second/log; rm -rf $$second; exit 143' TERM; \
	fi; \
	echo '$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --durations=40 -m "not ray and not serial"'; \
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --durations=40 -m "not ray and not serial" || status=$$?; \
	if [ "$(RAY_BESIDE)" = 1 ]; then \
	  wait $$bg; rc=$$?; trap - INT TERM; \
	  echo '$(BIN)/pytest -q --durations=40 -m "ray or serial"  (ran beside the first run):'; cat $$second/log; \
	else \
	  echo '$(BIN)/pytest -q --durations=40 -m "ray or serial"'; \
	  $(BIN)/pytest -q --durations=40 -m "ray or serial" --basetemp=$$second/tmp; rc=$$?; \
	fi; \
	[ "$$rc" = 0 ] || status=$$rc; rm -rf $$second; exit $$status

test-unit: install
	$(BIN)/pytest -q -m unit

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .airfoil build dist src/*.egg-info .mypy_cache .ruff_cache
	rm -rf ui/node_modules src/airfoil/server/static test-output
