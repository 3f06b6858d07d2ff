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
  ``page`` fixture below saves one when a test fails. ``tests/conftest.py`` makes it and its
  report hook available to every test.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "outputs" / "browser"
REQUIRE = "REQUIRE_BROWSER"
INSTALL_HINT = ("install Chromium (Debian: `sudo apt-get install -y chromium`, which gives /usr/bin/chromium) "
                "or point CHROMIUM=/path/to/chromium-or-chrome at one (Ubuntu's chromium package is a snap, which "
                "does not run in most containers); Playwright comes with `make test`'s requirements and is never "
                "asked to download a browser")


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
          env: dict[str, str] | None = None, ready_text: str = "") -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the block ends; wait first until ``ready_url`` answers HTTP 200.

    With ``ready_text``, also wait until the answer contains it (e.g. the name of a run that the
    server must have found). The server runs in a process group of its own, and the whole group
    is stopped at the end: servers start children (TensorBoard's data server, Jupyter's
    kernels) that must not outlive the test. Its output goes to ``log``. Raises
    ``RuntimeError`` with the log's tail when the process exits or is not ready within
    ``timeout`` seconds.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never ask an http_proxy for localhost
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited with {proc.returncode} before serving {ready_url}:\n"
                                       + _tail(log))
                try:
                    with no_proxy.open(ready_url, timeout=2) as response:
                        if response.status == 200 and ready_text in response.read().decode(errors="replace"):
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{ready_url} was not ready within {timeout:.0f} s"
                                       + (f" (waiting for {ready_text!r})" if ready_text else "") + ":\n" + _tail(log))
                time.sleep(0.25)
            yield proc
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's whole process group, SIGKILL after 10 s if it is still there."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:    # the group is gone already
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def screenshot_path(name: str) -> Path:
    """Where the screenshot called ``name`` goes (a test id made safe for a file name)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") + ".png")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)   # the page fixture reads report_call
    return report


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page of the system's headless Chromium, 1280 x 900; saved as a screenshot if the test fails."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            yield page
            report = getattr(request.node, "report_call", None)
            if report is not None and report.failed:     # not when a later fixture failed: the page is blank
                path = screenshot_path(request.node.nodeid)
                page.screenshot(path=path, full_page=True)
                print(f"screenshot of the failed browser test: {path}")
        finally:
            browser.close()
