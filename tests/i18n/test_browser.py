"""A German browser gets the desk in German, scripts included; the agent switches to
English in their profile and gets English everywhere, whatever the browser says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpdesk import unit_of_work
from helpdesk.extensions import db
from tests.fixtures.browser import VIEWPORT, WAIT_MS, Seen, log_in

pytestmark = pytest.mark.slow
# Where to leave screenshots for docs/screenshots (taken only when it is set).
SHOTS = os.environ.get("HELPDESK_SCREENSHOTS")


def test_german_browser_then_english_by_profile(chromium, live_server, admin, inbound):
    with unit_of_work.write_phase():  # the live server may write meanwhile
        inbound("email", "jan@example.de", "Wo ist mein Paket?", subject="Lieferung fehlt")
        db.session.commit()
    context = chromium.new_context(base_url=live_server, viewport=VIEWPORT, locale="de-DE")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.seen = seen = Seen()
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("console", lambda m: seen.console.append(m.text) if m.type == "error" else None)
    try:
        page.goto("/login")
        assert page.locator("html").get_attribute("lang") == "de"
        log_in(page, admin.email)
        inbox = page.locator("table.inbox")
        assert page.locator("html").get_attribute("lang") == "de"
        assert (
            page.locator("nav.views a[data-view=unassigned]")
            .inner_text()
            .startswith("Nicht zugewiesen")
        )
        assert inbox.locator("th").nth(4).inner_text() == "Betreff"
        # the scripts speak German too: the waiting time is refreshed by app.js
        page.wait_for_function(
            "() => document.querySelector('td.waiting time.ago').textContent === 'gerade eben'"
        )
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / "inbox-de.png"))

        page.locator("#my-profile").click()
        page.wait_for_url("**/profile")
        assert page.locator("h1").inner_text() == "Ihr Profil"
        page.select_option("select[name=language]", "en")
        page.select_option("select[name=timezone]", "Europe/Berlin")
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / "profile.png"))
        with page.expect_navigation():
            page.locator("#profile-form button[type=submit]").click()
        assert page.locator("h1").inner_text() == "Your profile"
        assert page.locator("select[name=timezone]").input_value() == "Europe/Berlin"

        page.goto("/inbox")
        assert page.locator("html").get_attribute("lang") == "en"
        assert (
            page.locator("nav.views a[data-view=unassigned]").inner_text().startswith("Unassigned")
        )
        page.wait_for_function(
            "() => document.querySelector('td.waiting time.ago').textContent === 'just now'"
        )
        assert "Nicht zugewiesen" not in page.content()
        assert not seen.errors and not seen.console, seen.report()
    finally:
        context.close()
