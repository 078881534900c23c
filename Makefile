# Two commands on a fresh machine: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DEV     := $(VENV)/.installed-dev
HOST    ?= 127.0.0.1
PORT    ?= 8000
THREADS ?= 8
# `make lock` keeps the pinned versions and adds what pyproject.toml now asks for;
# `make lock UPGRADE=--upgrade` moves every pin to the newest release that fits.
UPGRADE ?=
LOCK    := $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
           --generate-hashes --custom-compile-command 'make lock' $(UPGRADE)

.PHONY: install run test lint pytest bench lock clean

# The service's dependencies at the versions in requirements.lock (hash-checked), then the
# project itself; `make run` needs nothing more.
$(STAMP): pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# The test and lint tools at the versions in requirements-dev.lock.
$(DEV): $(STAMP) requirements-dev.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(DEV)

install: $(DEV)

# Links, QR codes and labels point at this server (a PROVENANCE_PUBLIC_URL already set wins).
run: export PROVENANCE_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: $(STAMP)
	$(BIN)/flask --app app init --demo
	$(BIN)/flask --app app seed-demo --if-empty
	$(BIN)/python -m provenance.front --host $(HOST) --port $(PORT) --threads $(THREADS)

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

pytest: $(DEV)
	$(BIN)/pytest

test: lint pytest

bench: $(DEV)
	$(BIN)/python tests/bench/bench_log.py
	$(BIN)/python tests/bench/bench_supply.py
	$(BIN)/python tests/bench/bench_reports.py
	$(BIN)/python tests/bench/bench_trial_upload.py
	$(BIN)/python tests/bench/bench_scale.py

# requirements-dev.lock (service, tests, lint) and requirements.lock (the service alone, at the
# same versions), for Python 3.11+ on any platform.
lock: $(STAMP)
	$(BIN)/pip install --quiet uv
	$(LOCK) --extra test -o requirements-dev.lock
	$(LOCK) -c requirements-dev.lock -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
