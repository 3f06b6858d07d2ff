# `make lab` and `make test` each create .venv on first use and reinstall requirements.txt
# into it only when that file (or pyproject.toml) has changed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.requirements-installed

.PHONY: help lab test data clean

help:
	@echo "make lab    start JupyterLab on notebooks/ (creates .venv on first use)"
	@echo "make test   unit tests of helpers + strict nbval over every notebook"
	@echo "make data   rebuild data/ from ../shared/datasets/ (see data/README.md)"
	@echo "make clean  remove what the notebooks write (runs/, checkpoints/, outputs/)"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; run make PYTHON=python3.12 (or another)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

lab: $(STAMP)
	$(BIN)/python -m jupyterlab notebooks/

test: $(STAMP)
	HELPERS_DEVICE=cpu $(BIN)/python -m pytest

data: $(STAMP)
	$(BIN)/python data/build.py

clean:
	rm -rf runs checkpoints outputs notebooks/runs notebooks/checkpoints notebooks/outputs
