# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
# what running needs (`make demo`, `make docs`) and the dev install on top of it (`make test`, `lint`,
# `bench`: the test, lint and spark extras); each is redone when pyproject.toml or the lock changes
SUM     := $(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
RUNTIME := $(VENV)/.installed-run-$(SUM)
DEV     := $(VENV)/.installed-dev-$(SUM)
DB     ?= evrevops.duckdb
DEMO   ?= demo-data
PORTS  ?= 500
MONTHS ?= 12
SEED   ?= 42
# `make demo` shows each step, its output and its time, and writes the same lines to $(DEMO_LOG)
DEMO_LOG ?= demo.log
STEP_LOG ?=
STEP    = $(PYTHON) tools/step.py $(if $(STEP_LOG),--log $(STEP_LOG))
EVR     = $(BIN)/evrevops --db $(DB)
PIP     = $(BIN)/pip install --quiet -c $(LOCK)

.PHONY: demo test bench bench-scale lint lock docs clean

# every package at the version in requirements.lock (constraints: a package the lock does not
# name yet, e.g. a dependency just added to pyproject.toml, takes its newest version in range)
$(RUNTIME): pyproject.toml $(LOCK)
	@$(STEP) install -- sh -c 'test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV); $(PIP) -e .'
	@rm -f $(VENV)/.installed-* && touch $(RUNTIME)

# the dev install holds the runtime one: `make test` then `make demo` installs nothing more
$(DEV): pyproject.toml $(LOCK)
	@$(STEP) install-dev -- sh -c 'test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV); $(PIP) -e ".[dev]"'
	@rm -f $(VENV)/.installed-* && touch $(RUNTIME) $(DEV)

# the demo: each step timed, on the terminal and in $(DEMO_LOG); the dirty ingest is meant to refuse
# every record (its exit code 1 is expected)
demo:
	@$(STEP) --log $(DEMO_LOG) --begin demo
	@$(MAKE) --no-print-directory STEP_LOG=$(DEMO_LOG) $(RUNTIME)
	@$(STEP) --log $(DEMO_LOG) clean -- rm -rf $(DEMO) $(DEMO)-dirty $(DB) $(DB).wal
	@$(STEP) --log $(DEMO_LOG) generate -- $(BIN)/evrevops generate --ports $(PORTS) --months $(MONTHS) \
	  --seed $(SEED) --out $(DEMO) --dirty-out $(DEMO)-dirty
	@$(STEP) --log $(DEMO_LOG) ingest -- $(EVR) ingest $(DEMO)
	@echo "--- dirty data, as real exports have it: every record refused with its reason, the figures unmoved" \
	  | tee -a $(DEMO_LOG)
	-@$(STEP) --log $(DEMO_LOG) ingest-dirty -- $(EVR) ingest $(DEMO)-dirty
	@$(STEP) --log $(DEMO_LOG) quarantine -- $(EVR) quarantine --limit 12
	@$(STEP) --log $(DEMO_LOG) headline -- $(EVR) headline
	@$(STEP) --log $(DEMO_LOG) unit-economics -- $(EVR) unit-economics --by segment --summary
	@$(STEP) --log $(DEMO_LOG) forecast-hardware -- $(EVR) forecast hardware --months 6
	@$(STEP) --log $(DEMO_LOG) --end demo

test: $(DEV)
	$(BIN)/pytest -q -n 2

bench: $(DEV)
	$(BIN)/python benchmarks/run.py

bench-scale: $(DEV)
	$(BIN)/python benchmarks/scale.py

# ruff everywhere; mypy strict on core and query (the files and flags are in pyproject.toml)
lint: $(DEV)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/mypy

# requirements.lock from the venv: every package the dev install needs, name==version, sorted
lock: $(DEV)
	$(BIN)/python .ci/lock.py $(LOCK)

docs: $(RUNTIME)
	$(BIN)/evrevops metrics docs --out docs/metrics.md

clean:
	rm -rf $(VENV) $(DEMO) $(DEMO)-dirty $(DB) $(DB).wal $(DEMO_LOG) .pytest_cache
