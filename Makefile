# Two commands do all the set-up on a fresh Debian/Ubuntu machine with Python 3.11:
#   make report   environment from the lockfile + `dvc repro` → reports/index.html
#   make test     the same environment + the test suite
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.8
export PATH := $(abspath $(BIN)):$(PATH)
export TF_ENABLE_ONEDNN_OPTS := 0
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: report reproduce publish test test-fast env npm browser lock check clean help
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

help:
	@echo "make report   build the whole report site (reports/index.html)"
	@echo "make reproduce  recompute everything, compare with the committed results (reports/reproduction.html)"
	@echo "make test     run the test suite (installs Chromium with apt for the browser tests)"
	@echo "make publish  the site as a static folder, public/, ready to upload, with its DVC remote in public/dvc/"
	@echo "make lock     re-resolve requirements.in into requirements.lock"

# `python -m pipeline remote --repro`: `dvc repro --pull` when the default DVC remote answers
# (a GitHub clone's default is its published site, https://OWNER.github.io/REPO/dvc), so stages
# whose inputs match dvc.lock or the run-cache are fetched; plain `dvc repro` otherwise.
report: env npm
	$(BIN)/python -m pipeline remote --repro
	@echo "Open reports/index.html"

# Recompute from scratch (dvc repro --force, the sweep's own cache set aside), then compare with
# the committed results; exits 1 only on a disagreement beyond the seed spread or a changed verdict.
reproduce: env npm
	$(BIN)/python -m pipeline reproduce

# The site as one folder to upload anywhere (GitHub Pages: .github/workflows/pages.yml).
publish: report
	$(BIN)/python -m pipeline publish

test: env npm browser
	$(BIN)/python -m pytest

test-fast: env
	$(BIN)/python -m pytest -m "not slow"

check: env
	$(BIN)/python -m pipeline check

# The environment: a venv with uv, the locked (hashed) packages, this package editable.
# compileall writes every .pyc once: uv does not, nor does Python under PYTHONDONTWRITEBYTECODE,
# and without them every process compiles what it imports again (measured: benchmarks/results.md).
env: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null
	touch $@

# npm fetches the pinned vega libraries that the offline dvc plots page inlines (pipeline/core/assets.py).
npm:
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq npm >/dev/null; }

# Debian's Chromium for the real-browser tests (never a browser download by a test tool).
browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lock: env
	$(BIN)/uv pip compile --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --generate-hashes requirements.in -o requirements.lock

clean:
	rm -rf $(VENV) build public .pytest_cache
