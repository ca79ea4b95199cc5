# The diffusion course. Two commands matter:
#   make course   run every notebook headless, in order (full mode), and print how long each took
#   make test     unit tests + every notebook checked by nbval (fast mode)
# Each creates .venv first if it is missing or older than pyproject.toml (the pins changed).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_NB := --nbval-lax --nbval-current-env --nbval-cell-timeout=900

.PHONY: course test unit notebooks lab execute models clean venv help site test-browser

help:
	@echo "make course    run all notebooks headless (full mode) into build/notebooks, with times"
	@echo "make test      unit tests + nbval on every notebook (fast mode, COURSE_FAST=1)"
	@echo "make unit      unit tests without the slow ones (-m 'not slow')"
	@echo "make lab       JupyterLab on notebooks/ (localhost only)"
	@echo "make execute   re-run the committed notebooks in place (full mode) before a commit"
	@echo "make models    retrain every shipped model in data/ from scratch"
	@echo "make site      render build/notebooks (or, before make course, notebooks/) to build/site, front-page picture included"
	@echo "make test-browser  the site and JupyterLab widgets in headless Chromium (apt-get install chromium)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

course: $(STAMP)
	env -u COURSE_FAST $(PY) tools/run_notebooks.py
	$(PY) tools/build_site.py

test: $(STAMP)
	COURSE_FAST=1 $(PY) -m pytest tests notebooks $(PYTEST_NB)

unit: $(STAMP)
	COURSE_FAST=1 $(PY) -m pytest tests -m "not slow"

notebooks: $(STAMP)
	COURSE_FAST=1 $(PY) -m pytest notebooks $(PYTEST_NB)

execute: $(STAMP)
	$(PY) tools/add_colab_cell.py
	env -u COURSE_FAST $(PY) tools/run_notebooks.py --in-place

site: $(STAMP)
	$(PY) tools/build_site.py $(if $(wildcard build/notebooks/*.ipynb),,--src notebooks)

test-browser: $(STAMP)
	COURSE_FAST=1 $(PY) -m pytest tests/browser -rs

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --ServerApp.open_browser=False --notebook-dir=notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root)

models: $(STAMP)
	$(PY) -m course_utils.train all --fresh

clean:
	rm -rf build runs
