"""tests/browser.py: no browser skips (fails where REQUIRE_BROWSER=1); a server that does not start says why."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from browser import SCREENSHOTS, chromium_or_skip, free_port, serve


def test_no_chromium_skips_with_the_install_command(monkeypatch):
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        chromium_or_skip()


def test_no_chromium_fails_where_the_browser_is_required(monkeypatch):
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1"):
        chromium_or_skip()


def test_a_server_that_exits_is_reported_with_its_log(tmp_path):
    command = [sys.executable, "-c", "import sys; print('port already in use'); sys.exit(3)"]
    with pytest.raises(RuntimeError, match=r"(?s)exited with 3.*port already in use"):
        with serve(command, f"http://127.0.0.1:{free_port()}/", tmp_path / "server.log", timeout=20):
            pass


def test_a_server_is_waited_for_and_stopped(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    with serve(command, f"http://127.0.0.1:{port}/", tmp_path / "server.log", timeout=30) as proc:
        assert proc.poll() is None
    assert proc.poll() is not None


def test_the_servers_children_are_stopped_with_it(tmp_path):
    # a server that starts a child of its own, as TensorBoard (its data server) and Jupyter (kernels) do
    port = free_port()
    script = ("import subprocess, sys\n"
              f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
              f"open({str(tmp_path / 'child.pid')!r}, 'w').write(str(child.pid))\n"
              f"import http.server, functools\n"
              f"http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port={port}, bind='127.0.0.1')\n")
    with serve([sys.executable, "-c", script], f"http://127.0.0.1:{port}/", tmp_path / "server.log", timeout=30):
        child = int((tmp_path / "child.pid").read_text())
        os.kill(child, 0)                        # alive while the server runs
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child), "the server's child outlived the server"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


@pytest.mark.slow
@pytest.mark.browser
def test_a_failed_browser_test_leaves_a_screenshot(pytester):
    chromium_or_skip()
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                          "from browser import page, pytest_runtest_makereport  # noqa: F401\n")
    pytester.makepyfile(test_fails="def test_shows_a_heading(page):\n"
                                   "    page.set_content('<h1>expected text</h1>')\n"
                                   "    assert page.inner_text('h1') == 'other text'\n")
    shot = SCREENSHOTS / "test_fails.py_test_shows_a_heading.png"
    shot.unlink(missing_ok=True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:nbval")
    result.assert_outcomes(failed=1)
    assert shot.exists() and shot.stat().st_size > 1000
    shot.unlink()


def test_a_server_is_not_ready_until_it_serves_the_text_asked_for(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    with pytest.raises(RuntimeError, match="waiting for 'run-that-is-not-there'"):
        with serve(command, f"http://127.0.0.1:{port}/", tmp_path / "server.log", timeout=3,
                   ready_text="run-that-is-not-there"):
            pass
    (tmp_path / "run-that-is-not-there").mkdir()      # the directory listing now names it
    with serve(command, f"http://127.0.0.1:{port}/", tmp_path / "server.log", timeout=30,
               ready_text="run-that-is-not-there"):
        pass
