# Lago developer commands. On a fresh Debian machine with Python 3.11, `make run` and `make test`
# are all you need: they build .venv, find or start PostgreSQL and Redis (scripts/with-services),
# and go. See docs/running.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lago-installed
WITH_SERVICES := bash scripts/with-services
PYTEST_ARGS ?=
# Test files run on this many processes (pytest-xdist, whole files per process: module fixtures and
# browser sessions stay whole); each has its own database and Redis key space. 0 = in-process.
TEST_WORKERS ?= 2

# Recipes (and what they start) find the virtualenv's tools, `lago` included, first.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
export PIP_NO_INPUT := 1

.PHONY: help venv lock services run test lint bench clean-local ci-tools web browser screenshots

help:
	@echo "make run          build .venv, find/start PostgreSQL + Redis, lago migrate, lago dev"
	@echo "make test         build .venv, find/start services, ruff check, mypy, pytest"
	@echo "                  (extra pytest arguments: make test PYTEST_ARGS='-k auth -x'; TEST_WORKERS=0 runs in one process)"
	@echo "make web          build the web app (web/ -> web/dist) when its sources changed"
	@echo "make lint         ruff check + mypy only"
	@echo "make bench        lago bench all: fan-out vs python-socketio and Node.js, failover (≈4 min)"
	@echo "make services     find/start PostgreSQL + Redis and say which are used"
	@echo "make venv         create .venv from requirements.lock, hashes checked (only when it or pyproject.toml changed)"
	@echo "make lock         re-resolve requirements.lock from pyproject.toml (LOCK_ARGS='--upgrade-package aiohttp')"
	@echo "make clean-local  stop the embedded services and delete .lago-local/"

venv: $(STAMP)

# Reinstall only when pyproject.toml or the lock is newer than the stamp; pip reads the machine's
# own config (pip.conf, PIP_* variables) as usual. Every dependency comes from requirements.lock,
# exact versions with their hashes; Lago itself is installed on top without resolving anything,
# built with the locked setuptools (no build isolation, which would fetch an unpinned one).
# `pip check` fails the target when pyproject.toml asks for something the lock lacks.
$(STAMP): pyproject.toml requirements.lock
	@if [ -z "$(PYTHON)" ]; then echo "make: no python3.11/python3 on PATH" >&2; exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "make: $(PYTHON) is older than Python 3.11" >&2; exit 1; }
	@if ! $(BIN)/python -c '' 2>/dev/null; then \
		echo "make: creating $(VENV) with $$($(PYTHON) --version)"; \
		rm -rf $(VENV); \
		$(PYTHON) -m venv $(VENV) \
			|| { echo "make: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }; \
	fi
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check >&2; \
		echo "make: requirements.lock does not satisfy pyproject.toml: run \`make lock\`" >&2; exit 1; }
	@touch $@

# Resolves pyproject.toml (extras dev and local) afresh, keeping the versions already locked unless
# LOCK_ARGS says otherwise (--upgrade, --upgrade-package NAME). pip-tools comes from the lock itself.
LOCK_ARGS ?=
lock:
	@[ -x $(BIN)/pip-compile ] || { echo "make lock: no $(BIN)/pip-compile: run \`make venv\` first" >&2; exit 1; }
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
		--strip-extras --no-emit-index-url --no-emit-find-links --extra dev --extra local \
		$(LOCK_ARGS) -o requirements.lock pyproject.toml
	@# The image's runtime-only lock, resolved with the versions just locked above.
	cp requirements.lock deploy/requirements.lock
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe \
		--strip-extras --no-emit-index-url --no-emit-find-links \
		-o deploy/requirements.lock pyproject.toml

# The web app is rebuilt only when one of its sources is newer than the build.
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/package.json \
	web/package-lock.json web/vite.config.ts web/tsconfig.json
web: web/dist/index.html
web/dist/index.html: $(STAMP) $(WEB_SOURCES)
	bash scripts/web-build

# Debian's Chromium for the browser tests (tests/browser/), installed when missing.
browser:
	@bash scripts/ensure-chromium

# The browser tests again, saving the main pages into docs/screenshots/.
screenshots: venv web browser
	mkdir -p docs/screenshots
	LAGO_SCREENSHOTS=$(CURDIR)/docs/screenshots $(WITH_SERVICES) $(BIN)/python -m pytest tests/browser -q

services: venv
	@$(WITH_SERVICES) true

# Invoices embed a CJK font: without one Lago still runs and says so when an invoice is generated.
run: venv web
	@bash scripts/ensure-fonts || echo "make: no CJK font: generated invoices will be refused (invoice_font_missing)" >&2
	$(WITH_SERVICES) lago migrate
	$(WITH_SERVICES) lago dev

# Every check runs even when an earlier one fails, so one CI run shows all problems; the target
# fails when any did. pytest's exit status 5 ("no tests collected") counts as a failure.
test: venv ci-tools web browser
	@failed=""; \
	echo "== ruff check ."; $(BIN)/ruff check . || failed="$$failed ruff"; \
	echo "== mypy"; $(BIN)/mypy || failed="$$failed mypy"; \
	echo "== pytest $(PYTEST_ARGS)"; \
	status=0; $(WITH_SERVICES) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make: pytest collected no tests" >&2; failed="$$failed pytest(no-tests)"; \
	elif [ $$status -ne 0 ]; then failed="$$failed pytest(exit-$$status)"; fi; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test: all passed"

lint: venv
	@failed=""; \
	echo "== ruff check ."; $(BIN)/ruff check . || failed="$$failed ruff"; \
	echo "== mypy"; $(BIN)/mypy || failed="$$failed mypy"; \
	if [ -n "$$failed" ]; then echo "make lint: FAILED:$$failed" >&2; exit 1; fi

# Starts its own servers on 127.0.0.1 and its own database; see docs/benchmarks.md.
bench: venv
	$(WITH_SERVICES) lago bench all --json bench.json

# Stops only what scripts/devservices.py started (never the machine's PostgreSQL or Redis).
clean-local:
	@py=$(BIN)/python; [ -x $$py ] || py="$(PYTHON)"; $$py scripts/devservices.py stop
	rm -rf .lago-local

# In CI only (CI=true), as root with apt-get: install Debian's docker-compose (≈7 s, no engine
# needed) so tests/test_compose.py can validate docker-compose.yml instead of skipping.
# Anywhere else, or when that fails, the test skips with its reason.
ci-tools:
	@if [ "$${CI:-}" = "true" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then \
		echo "== CI: installing Debian's docker-compose to validate docker-compose.yml"; \
		export DEBIAN_FRONTEND=noninteractive; \
		timeout 120 apt-get install -y -qq --no-install-recommends docker-compose >/dev/null 2>&1 \
		|| { timeout 60 apt-get update -qq >/dev/null 2>&1 \
			&& timeout 120 apt-get install -y -qq --no-install-recommends docker-compose >/dev/null 2>&1; } \
		|| echo "== CI: could not install docker-compose; the compose test will skip" >&2; \
	fi
