# Two commands do all the set-up from a fresh machine: `make demo` and `make test`.
# Both create .venv, install torch (CPU build) first, then the package with its extras, and the
# Debian packages headless Qt needs when they are missing.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
SCREENSHOT ?= demo_screenshot.png

.PHONY: setup system-deps test demo bench docs clean

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/install_system_deps.sh

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[testing]"
	touch $(STAMP)

# The layers' import contracts (pyproject.toml, [tool.importlinter]), ruff, the whole test suite,
# headless (pytest-xvfb starts a virtual display for the GUI tests), then the docs with Sphinx -W
# (the examples' figures in their --small mode, so this step takes a minute or two).
test: setup
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
	$(MAKE) docs EXAMPLE_FLAGS=--small

# Opens napari with the sample data and the plugin's widget; with no display it runs under Xvfb,
# does the work and saves a screenshot ($(SCREENSHOT)).
demo: setup
	@if [ -n "$$DISPLAY" ]; then \
		$(BIN)/python -m napari_invprob.napari.demo; \
	else \
		xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python -m napari_invprob.napari.demo --screenshot "$(SCREENSHOT)"; \
	fi

bench: setup
	for script in benchmarks/*.py; do $(BIN)/python "$$script" || exit 1; done

# HTML user guide and API reference in docs/_build/html, offline; any Sphinx warning fails the build
# (-E: every page read afresh, so a changed docstring is never hidden by the cache).
# The figures are made first by the lecture examples (docs/_figures, not committed); EXAMPLE_FLAGS=--small
# makes them on reduced sizes (what `make test` does).
EXAMPLE_FLAGS ?=
DOCS_STAMP := $(VENV)/.installed-docs
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: setup $(DOCS_STAMP)
	for script in examples/[0-9]*.py; do MPLBACKEND=Agg $(BIN)/python "$$script" $(EXAMPLE_FLAGS) --out docs/_figures || exit 1; done
	$(BIN)/python -m sphinx -W --keep-going -E -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build dist .pytest_cache $(SCREENSHOT)
