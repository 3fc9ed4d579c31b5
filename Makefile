# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Two workers keep the whole suite well inside the CI budget; PYTEST_ARGS= runs it serially.
PYTEST_ARGS ?= -n 2 --dist loadgroup

.PHONY: run test lint system-deps pdf-font install install-dev seed bench clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime: $(VENV)/bin/python requirements.txt pyproject.toml
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

## run: set up, create and seed the database on first start, serve on 127.0.0.1:$(PORT) (make run PORT=8502)
PORT ?= 8501
run: install pdf-font
	$(VENV)/bin/fund init
	$(PY) -m streamlit run app.py --server.address=127.0.0.1 --server.port=$(PORT)

seed: install
	$(VENV)/bin/fund seed

## pdf-font: the Japanese font embedded in PDF 帳票 (Debian's fonts-ipaexfont-gothic) — when root and missing
pdf-font:
	@[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-ipaexfont-gothic >/dev/null; \
	  else echo "PDF 帳票には fonts-ipaexfont-gothic が必要です（root で apt-get install してください）"; fi; }

## system-deps: Debian's chromium (browser tests), Japanese fonts (IPAex is embedded in PDF 帳票),
## poppler-utils (tests render PDFs to images), PostgreSQL, Node and npm (the browser tests' OpenID
## Connect provider) — when root and missing
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -q "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || missing="$$missing fonts-ipaexfont-gothic"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages:$$missing (install them, or run as root)"; exit 1; fi; \
	fi

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## oidc-provider: the browser tests' identity provider, exactly as locked in its package-lock.json
OIDC_DIR := tests/e2e/oidc
$(OIDC_DIR)/node_modules/.package-lock.json: $(OIDC_DIR)/package-lock.json
	cd $(OIDC_DIR) && npm ci --no-audit --no-fund --ignore-scripts >/dev/null

## test: set up, lint, type-check, then every test including the real-browser ones
test: install-dev system-deps $(OIDC_DIR)/node_modules/.package-lock.json lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install-dev
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(OIDC_DIR)/node_modules
