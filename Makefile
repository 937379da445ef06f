# `make run` and `make test` create .venv and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check setup clean-media bench

setup: $(STAMP)

$(STAMP): pyproject.toml package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@# hls.js for the demo page (/demo/) and the browser tests, from the npm registry (never committed).
	@# Optional: without npm (or if it fails) the page loads hls.js from a CDN and the browser tests skip (fail in CI).
	if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error || echo "warning: npm ci failed: the demo page will load hls.js from the CDN"; \
	else \
		echo "note: npm is not installed: the demo page will load hls.js from the CDN; browser tests skip"; \
	fi
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/rig up

# The checks that keep the structure honest: the import-linter layer contracts (pyproject.toml),
# ruff's lint and format rules, and mypy on the stitcher. `make test` runs them first.
check: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: check
	$(BIN)/python -m pytest

# The README's "Performance" figures and plots: a full `rig bench load` (about 10 minutes; it
# starts a rig with the edge and redis unless one is running): docs/bench/ (report, plots, JSON).
bench: $(STAMP)
	$(BIN)/rig bench load --report docs/bench

clean-media:
	rm -rf media/cache
