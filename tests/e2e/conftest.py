"""Browser fixtures: Playwright driving Debian's Chromium against Django's live server."""

import os
import threading
import time
from pathlib import Path

import pytest

from tests.smtp import smtp_sink  # noqa: F401 - the fixture

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def browser_page():
    # The sync Playwright API runs an event loop in this thread; Django refuses ORM calls under a
    # running loop unless told they are safe (they are: nothing else runs in this thread). Tests
    # build their data *before* asking for this fixture: connections opened while the loop runs
    # live in another context and would stay open past the test database's teardown.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        yield page
        context.close()
        browser.close()
    _wait_for_request_threads()


def _wait_for_request_threads(timeout: float = 5.0) -> None:
    """Let the live server's request threads close their database connections (they do when
    the browser's keep-alive sockets close), so the test database can be dropped cleanly."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [
            t
            for t in threading.enumerate()
            if getattr(getattr(t, "_target", None), "__name__", "") == "process_request_thread"
        ]
        if not busy:
            return
        time.sleep(0.05)
