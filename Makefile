# PointLabel — every target is idempotent; a second `make install` is quick.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
HOST    ?= 127.0.0.1
PORT    ?= 8000
export POINTLABEL_DATA_DIR ?= $(CURDIR)/pointlabel-data

# Debian packages: Chromium for the e2e tests, shared libraries for `import open3d`,
# PostgreSQL for the tests that run the API and websocket suites on it too (tests/pg.py).
DEB_PKGS := chromium libusb-1.0-0 libgl1 libegl1 libx11-6 libgomp1 postgresql

.PHONY: help install demo serve test test-unit test-e2e bench lint clean images

help:
	@echo "make demo   install, generate + ingest the demo sequence, serve on http://$(HOST):$(PORT)"
	@echo "make test   install, lint, unit/API/websocket tests, e2e tests in headless Chromium"
	@echo "make bench  pointlabel bench --json"
	@echo "make lint   ruff, mypy, tsc on static/js"
	@echo "make images refresh the README screenshot (docs/images/workspace.png) on purpose"

install: $(VENV)/.installed node_modules/.installed .deb-check

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Not a file target: checked every time, installs only what is missing.
.deb-check:
	@missing=""; \
	for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing"; \
	    echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
.PHONY: .deb-check

demo: install
	$(BIN)/pointlabel demo --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/pointlabel serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	node_modules/.bin/tsc -p .   # JSDoc types of static/js (tsconfig.json)

test-unit: install
	$(BIN)/pytest tests

test-e2e: install
	$(BIN)/pytest e2e

test: lint test-unit test-e2e

# On purpose only: rewrites the README's screenshot (docs/images/workspace.png) from
# the e2e test that makes it; a plain `pytest e2e` never writes docs/images/.
images: install
	$(BIN)/pytest e2e/test_workspace.py -k kitti --update-images

bench: install
	$(BIN)/pointlabel bench --json

clean:
	rm -rf $(VENV) node_modules pointlabel-data demo-data .pytest_cache .mypy_cache .ruff_cache
