"""Makes the browser tests' fixture (a Chromium ``page``) and its report hook available to every test."""

from browser import page, pytest_runtest_makereport  # noqa: F401
