"""The sign-in in a real browser (Debian's Chromium, Playwright): the admin types the
address on /settings/mailboxes, clicks "Sign in with Microsoft", passes the stand-in's
authorize endpoint and comes back to the mailbox's page, signed in.

``HELPDESK_SCREENSHOTS=1`` writes the screenshot into docs/screenshots/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from tests.fixtures.browser import log_in
from tests.fixtures.oauth import oauth_config

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.slow  # a browser against a live server
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


@pytest.fixture
def app_config(oauth_provider):
    return {**oauth_config(oauth_provider), "PUBLIC_URL": None}  # back to the live server


def test_an_admin_signs_a_mailbox_in_with_microsoft(page, admin, oauth_provider, tmp_path):
    shots = SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path
    log_in(page, admin.email)
    page.goto("/settings/mailboxes")
    form = page.locator("form.oauth-signin")
    form.locator("#oauth-address").fill("support@contoso.example")
    form.locator("#oauth-name").fill("Contoso")
    page.screenshot(path=str(shots / "settings-mailboxes-oauth.png"), full_page=True)
    with page.expect_navigation(url="**/settings/mailboxes/*"):
        form.get_by_role("button", name="Sign in with Microsoft").click()
    expect(page.locator(".flash")).to_have_text("Mailbox Contoso signed in.")
    expect(page.locator("#f-auth option:checked")).to_have_text("Signed in with Microsoft")
    expect(page.get_by_role("link", name="Sign in again with Microsoft")).to_be_visible()
    assert oauth_provider.authorized[-1]["redirect_uri"].endswith(
        "/settings/mailboxes/oauth/callback"
    )
    db.session.rollback()  # see what the live server saved
    channel = db.session.execute(select(Channel).where(Channel.name == "Contoso")).scalar_one()
    assert channel.settings["auth"] == "microsoft" and channel.secrets["refresh_token"]
    db.session.rollback()
    assert not page.seen.errors, page.seen.report()
