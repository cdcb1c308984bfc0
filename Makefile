# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
# the install is redone when pyproject.toml or the lock changes
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
DB     ?= evrevops.duckdb
DEMO   ?= demo-data
PORTS  ?= 500
MONTHS ?= 12
SEED   ?= 42

.PHONY: demo test bench bench-scale lint lock docs clean

# every package at the version in requirements.lock (constraints: a package the lock does not
# name yet, e.g. a dependency just added to pyproject.toml, takes its newest version in range)
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# the demo prints 180-column tables when make is not run from a terminal (an exported COLUMNS wins)
demo: export COLUMNS ?= $(shell test -t 2 || echo 180)
demo: $(STAMP)
	rm -rf $(DEMO) $(DEMO)-dirty $(DB) $(DB).wal
	$(BIN)/evrevops generate --ports $(PORTS) --months $(MONTHS) --seed $(SEED) --out $(DEMO) --dirty-out $(DEMO)-dirty
	$(BIN)/evrevops --db $(DB) ingest $(DEMO)
	@echo "--- dirty data, as real exports have it: every record refused with its reason, the figures unmoved"
	-$(BIN)/evrevops --db $(DB) ingest $(DEMO)-dirty
	$(BIN)/evrevops --db $(DB) quarantine --limit 12
	$(BIN)/evrevops --db $(DB) headline
	$(BIN)/evrevops --db $(DB) unit-economics --by segment --summary
	$(BIN)/evrevops --db $(DB) forecast hardware --months 6

test: $(STAMP)
	$(BIN)/pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

bench-scale: $(STAMP)
	$(BIN)/python benchmarks/scale.py

# ruff everywhere; mypy strict on core and query (the files and flags are in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/mypy

# requirements.lock from the venv: every package the dev install needs, name==version, sorted
lock: $(STAMP)
	$(BIN)/python .ci/lock.py $(LOCK)

docs: $(STAMP)
	$(BIN)/evrevops metrics docs --out docs/metrics.md

clean:
	rm -rf $(VENV) $(DEMO) $(DEMO)-dirty $(DB) $(DB).wal .pytest_cache
