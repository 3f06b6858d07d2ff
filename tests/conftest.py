"""Fixtures of the browser tests (see tests/browser.py): a Chromium page, and its screenshot when a test fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser import chromium_or_skip, screenshot_path


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
            if report is None or report.failed:
                path = screenshot_path(request.node.nodeid)
                page.screenshot(path=path, full_page=True)
                print(f"screenshot of the failed browser test: {path}")
        finally:
            browser.close()
