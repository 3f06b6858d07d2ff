"""tests/browser.py: no browser skips (fails where REQUIRE_BROWSER=1); a server that does not start says why."""

from __future__ import annotations

import sys

import pytest
from browser import chromium_or_skip, free_port, serve


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
