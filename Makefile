# Two commands do everything:  make lab  (set up, open the course)  and  make test  (set up, test it all).
# Works from a fresh clone with Python >= 3.11 and make, as an ordinary user or as root.

PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed-stamp
NB     ?= $(sort $(wildcard notebooks/[0-9]*.ipynb))
JOBS   ?= 2
# The installer: uv (PyPI `uv`, pinned here) installs the same list as pip, several times
# faster; `make setup INSTALLER=pip`, or any failure to get uv, falls back to plain pip.
# --compile-bytecode: pip writes .pyc files at install, uv only when asked; without them the
# first run of every process (each kernel, each pytest worker) would compile its imports.
INSTALLER  ?= uv
UV_VERSION := 0.13.8

# Jupyter kernels and tools must come from the course's own environment.
export PATH := $(BIN):$(PATH)
# Python caches compiled modules (the course's own helpers, and the tests as pytest rewrites
# their asserts) in __pycache__ folders, which git ignores: a warm run compiles nothing. An
# environment that turns the cache off would have every kernel, worker and server compile its
# imports again (several CPU-seconds per `make test`), so the course's commands turn it on.
unexport PYTHONDONTWRITEBYTECODE
# JupyterLab refuses to start as root unless told it may (CI and many containers are root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help setup lab test lint pytest notebooks rerun e2e check bench clean site site-test

help:
	@echo "make lab        set up .venv and open the course in JupyterLab"
	@echo "make test       set up .venv, then ruff, pytest and strict nbval on every notebook"
	@echo "make notebooks  re-run notebooks top to bottom in fresh kernels (NB=notebooks/01_....ipynb for one)"
	@echo "make e2e        the end-to-end suites: headless Chromium, CLI processes, hostile input (CI runs it after make test)"
	@echo "make rerun      run every code cell of every notebook twice in a row (CI runs it after make test)"
	@echo "make check      all CI runs: make test, e2e, rerun and site-test"
	@echo "make bench      measure test, notebook, server and kernel timings (BENCH_ARGS=--cold adds a cold setup)"
	@echo "make site       build the course as a static site in build/site (view: python3 -m http.server -d build/site)"
	@echo "make site-test  build it, then open every page in headless Chromium (and check JupyterLab settings)"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else "Python >= 3.11 is needed; $(PYTHON) is %d.%d" % v[:2])'
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@if [ "$(INSTALLER)" = uv ] && { command -v uv >/dev/null 2>&1 || \
	        $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; } && \
	    uv pip install --quiet --compile-bytecode --python $(VENV)/bin/python -r requirements.txt -e .; then \
	    echo "installed requirements.txt with $$(uv --version)"; \
	else \
	    echo "installing requirements.txt with pip"; \
	    $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -e .; \
	fi
	@touch $(STAMP)

setup: $(STAMP)

# JupyterLab opens without its news prompt: the course's settings overrides, in the overrides.d/
# folder JupyterLab reads beside overrides.json (<prefix>/share/jupyter/lab/settings/).
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/cookies-sessions-tokens.json
$(LAB_OVERRIDES): jupyter/overrides.d/cookies-sessions-tokens.json
	@mkdir -p $(dir $@) && cp $< $@

lab: setup $(LAB_OVERRIDES)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/00_start_here.ipynb

lint: setup
	$(BIN)/ruff check helpers tests tools notebooks

pytest: setup
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile tests

test: lint
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile tests notebooks $(NBVAL)

notebooks: setup
	$(BIN)/python tools/execute_notebooks.py $(NB)

# Every code cell twice in a row, in one kernel per notebook: doubles the notebook time, so
# `make test` leaves it out and .ci/run runs it after `make test`. One test per notebook, each
# with its own kernel, so `--dist load` spreads the notebooks over the workers.
rerun: setup
	COURSE_RERUN=1 $(BIN)/python -m pytest -n $(JOBS) --dist load tests/rerun

# The end-to-end suites (pytest -m e2e): the demo servers and the browser helpers in headless
# Chromium (a fresh browser context costs Chromium about half a CPU-second), the CLI's processes,
# signals and exit codes, and the hostile-input sweep through six server processes. Together
# they would double `make test`; the notebooks' own browser cells, and the other tests, which
# also drive servers started through the CLI, stay in `make test`.
e2e: setup
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -m e2e tests

check: test e2e rerun site-test

bench: setup
	$(BIN)/python tools/bench.py $(BENCH_ARGS)

# The published course: Sphinx + myst-nb from the stored outputs, warnings as errors; then the
# headless-Chromium test of every page (kept out of `make test`: pytest -m site).
site: setup
	$(BIN)/python tools/build_site.py

site-test: site
	COURSE_SITE_DIR=build/site $(BIN)/python -m pytest -m site tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
