# `make lab` and `make test` each create .venv on first use and install into it only when a file
# they install from has changed. Both install the versions the notebooks were tested with
# (requirements.txt's ranges, pinned by constraints.txt); `make test` adds the tools in
# requirements-dev.txt. `make lab CONSTRAINTS=` installs requirements.txt's ranges alone, and so
# does Python 3.10, for which some of the pinned releases (numpy 2.4, ...) have no wheels.

PYTHON      ?= python3
VENV        ?= .venv
BIN         := $(VENV)/bin
ifeq ($(origin CONSTRAINTS),undefined)
CONSTRAINTS := $(shell $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -c \
                 'import sys; print("constraints.txt" if sys.version_info >= (3, 11) else "")' 2>/dev/null)
endif
STAMP       := $(VENV)/.requirements-installed
DEV_STAMP   := $(VENV)/.dev-requirements-installed
PIP_INSTALL := $(BIN)/python -m pip install $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
LINT_PATHS  := helpers solutions tests benchmarks scripts data/build.py conftest.py notebooks

.PHONY: help lab test unit lint data pretrained constraints clean restore

help:
	@echo "make lab          start JupyterLab on notebooks/ (creates .venv on first use)"
	@echo "make test         lint (ruff, mypy), unit tests of helpers, strict nbval over every notebook"
	@echo "make unit         the unit tests in tests/ alone, without the notebooks, the benchmarks or lint"
	@echo "make lint         ruff over the code and the notebooks, mypy over helpers/"
	@echo "make data         rebuild data/ from ../shared/datasets/ (see data/README.md)"
	@echo "make pretrained   retrain the bundled backbone data/pretrained/ (minutes on a GPU; about 2.7 h on a 2-core CPU)"
	@echo "make constraints  rewrite constraints.txt's pins from .venv (see that file's header)"
	@echo "make restore      put back the committed notebooks, keeping a copy of each one you changed in notebooks/my-work/"
	@echo "make clean        remove what the notebooks write (runs/, checkpoints/, outputs/)"

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; run make PYTHON=python3.12 (or another)")'
	$(PYTHON) -m venv $(VENV)

# What a learner needs.
$(STAMP): requirements.txt pyproject.toml $(CONSTRAINTS) | $(VENV)/bin/python
	$(PIP_INSTALL) -r requirements.txt
	touch $@

# What the tests need on top (requirements-dev.txt includes requirements.txt).
$(DEV_STAMP): requirements-dev.txt requirements.txt pyproject.toml $(CONSTRAINTS) | $(VENV)/bin/python
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $(STAMP) $@

# JupyterLab refuses to run as root unless told to, and many containers run as root: there,
# `make lab` says so and adds --allow-root. LAB_ARGS passes more, e.g. LAB_ARGS="--no-browser --port=8889".
RUN_AS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)
LAB_ARGS    ?=

lab: $(STAMP)
ifeq ($(RUN_AS_ROOT),yes)
	@echo "make lab: running as root (as in many containers); JupyterLab refuses that by default, so starting it with --allow-root"
endif
	$(BIN)/python -m jupyterlab notebooks/ $(if $(RUN_AS_ROOT),--allow-root) $(LAB_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/python -m ruff check $(LINT_PATHS)
	$(BIN)/python -m mypy

test: lint
	HELPERS_DEVICE=cpu $(BIN)/python -m pytest

unit: $(DEV_STAMP)
	HELPERS_DEVICE=cpu $(BIN)/python -m pytest tests -m "not slow"

data: $(STAMP)
	$(BIN)/python data/build.py

# Not part of `make test`: it trains for minutes on a GPU, hours on a 2-core CPU. It prints the new SHA-256 to write into
# helpers/data.py (PRETRAINED_SHA256); `make data` then lists the file in data/SHA256SUMS.
pretrained: $(STAMP)
	$(BIN)/python scripts/pretrain_cifar8.py
	$(BIN)/python data/build.py

constraints: $(DEV_STAMP)
	{ sed '/^# ---- pins ----$$/q' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt

clean:
	rm -rf runs checkpoints outputs notebooks/runs notebooks/checkpoints notebooks/outputs

# Saving a notebook after experimenting changes its stored outputs, which `make test` compares.
# This keeps a copy of each changed notebook, and of each new one (a "Copy1", an "Untitled"), in
# notebooks/my-work/ (git-ignored, left out of the tests), then puts the committed notebooks back.
# Close the notebooks in JupyterLab first: its autosave would write the old state back.
restore:
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { \
		echo "make restore: needs a git clone with git installed (a downloaded zip has no committed copy to restore)"; exit 1; }
	@changed=$$(git diff HEAD --name-only --relative -- 'notebooks/*.ipynb'); \
	added=$$(git ls-files --others --exclude-standard -- 'notebooks/*.ipynb'); \
	if [ -z "$$changed$$added" ]; then echo "make restore: every notebook is as committed"; exit 0; fi; \
	mkdir -p notebooks/my-work; stamp=$$(date +%Y%m%d-%H%M%S); \
	for f in $$changed $$added; do \
		[ -f "$$f" ] || continue; \
		copy="notebooks/my-work/$$(basename "$$f" .ipynb)-$$stamp.ipynb"; \
		cp "$$f" "$$copy" && echo "make restore: your $$f is kept as $$copy"; \
	done; \
	for f in $$added; do rm -f "$$f"; done; \
	if [ -n "$$changed" ]; then git checkout HEAD -- $$changed; fi; \
	echo "make restore: notebooks/ is as committed again"
