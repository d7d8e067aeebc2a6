# The README's commands. Everything installs itself from a clean checkout.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip --disable-pip-version-check
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint bench pipeline install install-dev browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: it resolves to the local CPU wheel instead of pulling CUDA packages.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e '.[torch]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -c constraints.txt -e '.[torch,dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian's chromium for the browser tests (Playwright cannot download a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)); }

run: install
	$(BIN)/chatdesk db upgrade
	$(BIN)/chatdesk demo
	@echo ""
	@echo "  chatdesk is starting on http://$(HOST):$(PORT)  (Ctrl-C stops it)"
	@echo ""
	$(BIN)/chatdesk serve --host $(HOST) --port $(PORT)

test: install-dev browser
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install-dev
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -q wrk >/dev/null
	$(BIN)/python benchmarks/retrieval.py
	$(BIN)/python benchmarks/http_load.py
	$(BIN)/python benchmarks/llm_streaming.py
	$(BIN)/python benchmarks/intents.py

# The intent-model pipeline (dvc.yaml): export → train → evaluate, offline.
pipeline: install-dev
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(BIN)/dvc repro

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
