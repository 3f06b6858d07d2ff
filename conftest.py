"""pytest configuration shared by the unit tests and the notebook tests (nbval)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# tests/test_browser_machinery.py runs a failing browser test in a scratch folder to see its screenshot
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent

# Stored notebook outputs come from CPU runs; force the CPU so they compare on a GPU machine too.
# Set before nbval starts any kernel, which inherits this process's environment.
os.environ.setdefault("HELPERS_DEVICE", "cpu")


def pytest_configure(config: pytest.Config) -> None:
    # nbval resolves --nbval-sanitize-with against the current directory; anchor it at the
    # repository root so that `pytest` works from any folder.
    if getattr(config.option, "nbval_sanitize_with", "unset") is None:
        config.option.nbval_sanitize_with = str(ROOT / "notebooks" / "sanitize.cfg")


def pytest_collectstart(collector: pytest.Collector) -> None:
    # Warnings and tqdm text arrive on stderr with per-run paths and timings; leave stderr out
    # of the comparison. tests/test_notebooks.py checks the stored stderr for warnings instead.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
