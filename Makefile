# The two commands for a fresh machine (Python 3.11+):
#   make serve   set up, then run the server with demo data on the embedded PostgreSQL
#   make test    set up, then run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.test-tools-stamp
EXAMPLES := .cache/hl7.fhir.r4.examples-4.0.1.tgz
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install install-test serve test lint typecheck bench examples clean

# What serving needs: the package and its runtime dependencies.
$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

# The test and lint tools on top (pytest, httpx, ruff, mypy, fhirclient).
$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

# The official R4 examples (CC0), used by the round-trip and validation tests.
$(EXAMPLES):
	mkdir -p .cache
	cd .cache && npm pack --silent hl7.fhir.r4.examples@4.0.1 >/dev/null
	@echo "fetched $(EXAMPLES)"

examples: $(EXAMPLES)

serve: install
	$(BIN)/fhir-server serve --demo --host $(HOST) --port $(PORT)

test: install-test examples
	$(BIN)/ruff check fhir_server tests bench
	$(BIN)/mypy fhir_server
	@[ -x "$${FHIR_CHROMIUM:-/usr/bin/chromium}" ] || echo "No Chromium at $${FHIR_CHROMIUM:-/usr/bin/chromium}: the browser tests (tests/integration/browser/) are skipped (apt-get install chromium)."
	$(BIN)/pytest

lint: install-test
	$(BIN)/ruff check fhir_server tests bench

typecheck: install-test
	$(BIN)/mypy fhir_server

bench: install-test
	$(BIN)/python bench/core_bench.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache .mypy_cache
