# KPI platform: `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
# PostgreSQL used by the second pass of the test suite (trust auth on loopback in CI).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# Two workers: the machines have two cores.
PYTEST_ARGS ?= -n 2

.PHONY: setup run test test-sqlite test-postgres test-faults security lint format services browser clean

# Debug is off unless asked: the local demo (`make run`), the set-up commands and the test
# targets ask for it; an environment that says DJANGO_DEBUG=false keeps it off.
run test lint format: export DJANGO_DEBUG ?= true

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the pinned dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

setup: $(VENV)/.installed node_modules/.installed
	mkdir -p var
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(MANAGE) compilemessages --ignore=.venv --ignore=node_modules -v 0
	# Hashed files and their manifest, whatever the debug mode: switching debug off later serves every page.
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(MANAGE) collectstatic --noinput -v 0

run: setup
	$(MANAGE) migrate --noinput
	$(MANAGE) load_kpi_catalogue
	$(MANAGE) seed_demo
	$(MANAGE) recompute_kpis --sync
	@echo "E-mails (alerts, digests) are written to var/mail/ unless EMAIL_BACKEND is set."
	EMAIL_BACKEND=$${EMAIL_BACKEND:-django.core.mail.backends.filebased.EmailBackend} scripts/run-all.sh

services:
	scripts/ensure-services.sh

browser:
	scripts/ensure-chromium.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup services browser lint security
	$(MANAGE) check
	$(MANAGE) makemigrations --check --dry-run
	$(MAKE) test-sqlite
	$(MAKE) test-postgres
	$(MAKE) test-faults

# Static analysis of the code (bandit) and known vulnerabilities of the pinned packages (pip-audit).
security: setup
	scripts/security-audit.sh

test-sqlite:
	env -u DATABASE_URL TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

# On CI PostgreSQL must be reachable (ensure-services starts it); elsewhere the pass is
# skipped with a message when no server answers.
test-postgres:
	@if scripts/ensure-services.sh --check-postgres "$(TEST_DATABASE_URL)"; then \
		DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS); \
	elif [ -n "$$CI" ]; then echo "PostgreSQL is required on CI and is not reachable" >&2; exit 1; \
	else echo "PostgreSQL not reachable at $(TEST_DATABASE_URL): PostgreSQL pass skipped (set TEST_DATABASE_URL)."; fi

# The fault and fuzz suite (tests/faults): schemathesis over the whole API, fuzzed ingestion and
# imports, a broker stopped and restarted, a worker killed, the generated cross-team matrix. Real
# PostgreSQL and Redis, bounded in time; prints its counts at the end.
test-faults:
	@if scripts/ensure-services.sh --check-postgres "$(TEST_DATABASE_URL)"; then \
		DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -m fault $(PYTEST_ARGS) tests/faults; \
	elif [ -n "$$CI" ]; then echo "PostgreSQL is required on CI and is not reachable" >&2; exit 1; \
	else echo "PostgreSQL not reachable at $(TEST_DATABASE_URL): fault suite skipped (set TEST_DATABASE_URL)."; fi

clean:
	rm -rf var/staticfiles .pytest_cache
