"""`make lab` starts JupyterLab, also as root (as in many containers, where JupyterLab refuses root by default)."""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest
from browser import ROOT, free_port, serve

pytestmark = pytest.mark.slow


def test_make_lab_starts_jupyterlab_and_says_when_it_runs_as_root(tmp_path):
    # make lab would first (re)install .venv, gigabytes, if it were missing or out of date
    if subprocess.run(["make", "-q", "-C", str(ROOT), ".venv/.requirements-installed"]).returncode != 0:
        pytest.skip("the .venv that make lab uses is missing or out of date: run make lab (or make test) once")
    port, token = free_port(), secrets.token_hex(8)
    args = f"--no-browser --port={port} --IdentityProvider.token={token}"
    log = tmp_path / "lab.log"
    # the Makefile's own `make lab`, as a learner types it; only where it listens and what it serves differ
    with serve(["make", "--no-print-directory", "-C", str(ROOT), "lab", f"LAB_ARGS={args}"],
               f"http://127.0.0.1:{port}/api/status?token={token}", log, timeout=120):
        pass
    text = log.read_text()
    # as root, without --allow-root, JupyterLab exits at once and serve() above raises with its log
    assert ("make lab: running as root" in text) == (os.geteuid() == 0), text[-2000:]
