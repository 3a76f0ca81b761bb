# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
# Debian's chromium, driven by Playwright through executable_path (no browser download)
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test test-unit test-integration test-ui screenshots lint format bench bench-kazoo bench-partitions install clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "webhooksd needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) setup.cfg pyproject.toml
	$(PIP) install -e '.[test,dev]'
	@touch $@

install: $(VENV)/.installed

# API_KEY=<64 hex> makes that the master account's key on first start (else one is printed)
run: install
	@mkdir -p var
	$(VENV)/bin/webhooksd bootstrap $(if $(API_KEY),--api-key $(API_KEY))
	$(VENV)/bin/webhooksd run

test: install
	$(PY) -m pytest

test-unit: install
	$(PY) -m pytest tests/unit

test-integration: install
	$(PY) -m pytest -m integration

test-ui: install
	$(PY) -m pytest -m ui

# refresh docs/screenshots/ from the UI tests (real Chromium, real daemon)
screenshots: install
	WEBHOOKSD_UI_SCREENSHOTS=1 CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q -m ui tests/ui

# blocks CI (.ci/run runs it before the tests); mypy checks what setup.cfg's [mypy] files names:
# the package, the built-in hook modules, the tests and bench
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check webhooksd modules tests bench
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format webhooksd modules tests bench

bench: install
	$(PIP) install -e '.[test,dev,bench]'
	$(PY) -m bench.run

# 10M attempts in a private database on the PostgreSQL of WEBHOOKSD_BENCH_PG_URL (a few GB
# of disk, about half an hour on 2 cores); the database is dropped afterwards
bench-partitions: install
	$(PY) -m bench.partitions --pg $${WEBHOOKSD_BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}

bench-kazoo: install
	$(PY) -m bench.kazoo_accounts --amqp $${WEBHOOKSD_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache *.egg-info
