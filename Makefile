# Two commands do everything:  make lab  (set up, open the course)  and  make test  (set up, test it all).
# Works from a fresh clone with Python >= 3.10 and make, as an ordinary user or as root.

PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed-stamp
NB     ?= $(sort $(wildcard notebooks/[0-9]*.ipynb))
JOBS   ?= 2

# Jupyter kernels and tools must come from the course's own environment.
export PATH := $(BIN):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
# JupyterLab refuses to start as root unless told it may (CI and many containers are root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help setup lab test lint pytest notebooks bench clean site site-test

help:
	@echo "make lab        set up .venv and open the course in JupyterLab"
	@echo "make test       set up .venv, then ruff, pytest and strict nbval on every notebook"
	@echo "make notebooks  re-run notebooks top to bottom in fresh kernels (NB=notebooks/01_....ipynb for one)"
	@echo "make bench      measure test, notebook, server and kernel timings"
	@echo "make site       build the course as a static site in build/site (view: python3 -m http.server -d build/site)"
	@echo "make site-test  build it, then open every page in headless Chromium (and check JupyterLab settings)"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 10) else "Python >= 3.10 is needed; $(PYTHON) is %d.%d" % v[:2])'
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -e .
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

bench: setup
	$(BIN)/python tools/bench.py

# The published course: Sphinx + myst-nb from the stored outputs, warnings as errors; then the
# headless-Chromium test of every page (kept out of `make test`: pytest -m site).
site: setup
	$(BIN)/python tools/build_site.py

site-test: site
	COURSE_SITE_DIR=build/site $(BIN)/python -m pytest -m site tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
