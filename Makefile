# Two entry points: `make repro` (install, then run the whole pipeline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin

.PHONY: install repro test benchmark

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

repro: install
	PATH=$(BIN):$$PATH dvc repro

test: install
	PATH=$(BIN):$$PATH python -m pytest

benchmark: install
	PATH=$(BIN):$$PATH python scripts/benchmark.py
