"""Browser-test machinery shared by the tests that look at a page as a person would (TensorBoard, JupyterLab).

- The browser is the system's Chromium, driven by Playwright for Python through
  ``executable_path``: Playwright never downloads a browser here. ``CHROMIUM=/path/to/chrome``
  picks another one.
- Without Chromium (or Playwright) the tests skip, saying how to install it. When
  ``REQUIRE_BROWSER=1`` (CI sets it), a missing browser fails the test instead: a skip there
  would pass a check that never ran.
- ``serve`` starts a server process (TensorBoard, JupyterLab) on a free port and stops it, with
  its log in the error when it does not come up.
- Screenshots go to ``outputs/browser/`` (git-ignored; ``make clean`` removes it): the
  ``page`` fixture in ``tests/conftest.py`` saves one when a test fails.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "outputs" / "browser"
REQUIRE = "REQUIRE_BROWSER"
INSTALL_HINT = ("install Chromium (Debian/Ubuntu: `sudo apt-get install -y chromium`; it gives /usr/bin/chromium) "
                "or point CHROMIUM=/path/to/chromium at one; Playwright comes with `make test`'s requirements "
                "and is never asked to download a browser")


def find_chromium() -> str | None:
    """The Chromium to drive: ``$CHROMIUM``, else the first of chromium, chromium-browser, google-chrome on PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"] if os.access(os.environ["CHROMIUM"], os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def chromium_or_skip() -> str:
    """The Chromium executable; skip the test (fail it when ``REQUIRE_BROWSER=1``) when there is none."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "Playwright for Python is not installed (pip install -r requirements-dev.txt)"
    else:
        exe = find_chromium()
        if exe is not None:
            return exe
        missing = "no Chromium found"
    message = f"browser test: {missing}; {INSTALL_HINT}"
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{message} ({REQUIRE}=1: this run must not skip browser tests)")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(command: Sequence[str], ready_url: str, log: Path, timeout: float = 60.0,
          env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the block ends; wait first until ``ready_url`` answers HTTP 200.

    Its output goes to ``log``. Raises ``RuntimeError`` with the log's tail when the process
    exits or does not answer within ``timeout`` seconds.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited with {proc.returncode} before serving {ready_url}:\n"
                                       + _tail(log))
                try:
                    with urllib.request.urlopen(ready_url, timeout=2) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{ready_url} did not answer within {timeout:.0f} s:\n" + _tail(log))
                time.sleep(0.25)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def screenshot_path(name: str) -> Path:
    """Where the screenshot called ``name`` goes (a test id made safe for a file name)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") + ".png")
