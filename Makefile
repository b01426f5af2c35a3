# Two entry points for newcomers: `make run` and `make test`. Each creates and owns
# its virtual environment (.venv) and installs what it needs; nothing by hand first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev clean dev-live

run: $(VENV)/.installed
	$(BIN)/earshot run

test: $(VENV)/.installed-dev
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch is pinned (==2.13.0) in pyproject.toml: a CPU wheel; unpinned it pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) earshot-data test-artifacts .pytest_cache

# The main job listening to every fake platform on loopback as live sources, seeded about the
# demo brand with one complaint spreading (tests/sources/fakes/serve_all.py). Ctrl-C stops both.
dev-live: $(VENV)/.installed-dev
	$(BIN)/python -m tests.sources.fakes.serve_all --run
