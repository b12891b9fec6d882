# sweetspot: `make demo` and `make test` bootstrap .venv themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs/demo
# requirements.lock: the exact version (and sha256) of every package `make` installs, runtime and dev extras with
# all their dependencies, resolved from pyproject.toml's ranges by `make lock`. `pip install .` keeps the ranges.
LOCK := requirements.lock
PIP_VERSION := 26.3
UV_VERSION := 0.13.10
UV := .uv-venv/bin/uv

.PHONY: demo test test-slow lint bench figures figures-quick clean lock

# The lock's pins (hash-checked), then the package itself without dependencies; reinstalls when the lock changes.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Re-resolves requirements.lock from pyproject.toml's ranges with uv (pinned; installed in .uv-venv), for Python 3.11
# on Linux. Pins still allowed by the ranges are kept; `make lock LOCK_ARGS=--upgrade` moves every pin to the newest.
LOCK_ARGS ?=
lock:
	test -x $(UV) || ($(PYTHON) -m venv .uv-venv && .uv-venv/bin/pip install --quiet uv==$(UV_VERSION))
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --python-platform linux --generate-hashes \
		--quiet $(LOCK_ARGS) -o $(LOCK)

demo: $(STAMP)
	$(PY) -m sweetspot sweep sweeps/regime_map.py --out $(DEMO_OUT) --overwrite
	$(PY) analysis/regime_heatmap.py $(DEMO_OUT)

# Every experiment of the registry (src/sweetspot/experiments.py) at its CPU default (sweeps skipped when complete,
# resumed when interrupted), then the report in report/. figures-quick: the pipeline end to end at 2 seeds and one
# instance (a check, not verdicts: its report says so), in runs_quick/ and report_quick/.
figures: $(STAMP)
	$(PY) analysis/make_figures.py --runs runs --out report

figures-quick: $(STAMP)
	$(PY) analysis/make_figures.py --quick --runs runs_quick --out report_quick

# One pytest worker per core (pytest-xdist), whole files per worker so module fixtures compile once; the workers
# share one JAX compilation cache (tests/conftest.py). TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/bench_grid.py

# ruff, then vulture's dead-code check ([tool.vulture] in pyproject.toml; allow-list: vulture_allowlist.py).
lint: $(STAMP)
	$(PY) -m ruff check src tests sweeps analysis benchmarks
	$(PY) -m vulture

clean:
	rm -rf runs runs_quick .pytest_cache
