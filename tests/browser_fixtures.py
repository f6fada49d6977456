"""Fixtures for the browser tests: Debian's Chromium driven by Playwright (sync API).

Playwright's own browser download is not used: the tests launch ``/usr/bin/chromium``
(``make test`` installs it through scripts/ensure-services.sh) and are skipped with a
reason when it is absent. Test modules import the fixtures they use
(``from tests.browser_fixtures import chromium, page``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 900}
WAIT_MS = 10_000  # live updates: generous, the machine is small and busy


def _expect_waits_as_long() -> None:
    """Playwright's ``expect`` waits 5 s unless told otherwise (the context's default
    timeout covers actions only): give every assertion the same WAIT_MS, since make test
    runs the SQLite and PostgreSQL suites side by side on two cores."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)


try:
    _expect_waits_as_long()
except ImportError:  # pragma: no cover - the browser tests skip without Playwright
    pass


@dataclass
class Seen:
    """What the browser reported while a test ran: dialogs (alert, confirm, prompt),
    uncaught page errors and console errors."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def report(self) -> str:
        """A short account for assertion messages."""
        return f"page errors: {self.errors}; console errors: {self.console[-10:]}"


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for a test module."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; make test does it)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(chromium, live_server):
    """A fresh browser context (no cookies) on the live server; ``page.seen`` records
    dialogs, page errors and console errors. Every dialog is dismissed."""
    context = chromium.new_context(base_url=live_server, viewport=VIEWPORT)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    seen = Seen()

    def on_dialog(dialog):
        seen.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.on("pageerror", lambda error: seen.errors.append(str(error)))
    tab.on("console", lambda msg: seen.console.append(msg.text) if msg.type == "error" else None)
    tab.seen = seen
    try:
        yield tab
    finally:
        context.close()


def log_in(page, email: str, password: str = "correct horse", lands_on: str = "**/inbox*") -> None:
    """Log in through the login form; the app sends the agent to the inbox."""
    if "/login" not in page.url:
        page.goto("/login")
    form = page.locator("form:has(input[name=password])")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    page.wait_for_url(lands_on)


def wait_for_socket(page) -> None:
    """Wait until the page's Socket.IO client (``window.helpdeskSocket``) is connected."""
    try:
        page.wait_for_function(
            "() => !!(window.helpdeskSocket && window.helpdeskSocket.connected)", timeout=WAIT_MS
        )
    except Exception as error:  # a Playwright TimeoutError: say what the contract wants
        raise AssertionError(
            f"window.helpdeskSocket never connected on {page.url}; {page.seen.report()}"
        ) from error


def mark_page(page) -> None:
    """Leave a marker in the page's window: a reload or navigation would lose it."""
    page.evaluate("() => { window.__noReload = 'still here'; }")


def assert_not_reloaded(page) -> None:
    """The page was updated in place, not reloaded."""
    assert page.evaluate("() => window.__noReload") == "still here", (
        f"the page was reloaded or left ({page.url})"
    )
