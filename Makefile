# Two commands on a fresh machine: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
HOST    ?= 127.0.0.1
PORT    ?= 8000
THREADS ?= 8

.PHONY: install run test lint pytest bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Links, QR codes and labels point at this server (a PROVENANCE_PUBLIC_URL already set wins).
run: export PROVENANCE_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: install
	$(BIN)/flask --app app init --demo
	$(BIN)/flask --app app seed-demo --if-empty
	@echo "provenance is serving at http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	$(BIN)/python -m provenance.front --host $(HOST) --port $(PORT) --threads $(THREADS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

pytest: install
	$(BIN)/pytest

test: lint pytest

bench: install
	$(BIN)/python tests/bench/bench_log.py
	$(BIN)/python tests/bench/bench_supply.py
	$(BIN)/python tests/bench/bench_reports.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
