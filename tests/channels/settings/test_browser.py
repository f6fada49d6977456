"""The channel settings screens in a real browser (Debian's Chromium, Playwright): an
admin connects a mailbox against the real Dovecot and aiosmtpd (a wrong password shows
the server's refusal, the right one tests OK, a delivered mail arrives after a poll),
and makes a chat widget whose copied snippet runs on a page of another origin (a
second HTTP server on another loopback port) where the widget connects.

``HELPDESK_SCREENSHOTS=1`` writes the screenshots into docs/screenshots/."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

# Imported before any app is built: the /chat namespace is registered on every app's
# Socket.IO server (see tests/channels/chat/test_browser.py).
from helpdesk.channels.chat import services as _chat_services  # noqa: F401
from helpdesk.channels.email.imap import poll
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from tests.fixtures.browser import log_in
from tests.fixtures.email import deliver, make_mail

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.slow  # a browser against a live server
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


def _shots(tmp_path: Path) -> Path:
    return SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path


def test_an_admin_connects_a_mailbox_and_mail_arrives(page, admin, imap, smtp_server, tmp_path):
    log_in(page, admin.email)
    page.goto("/settings/mailboxes")
    expect(page.locator("p.empty")).to_be_visible()
    page.get_by_role("link", name="Add mailbox").click()
    form = page.locator("form.mailbox-form")
    form.locator("#f-name").fill("Support")
    form.locator("#f-address").fill("support@example.com")
    form.locator("#f-imap_host").fill("127.0.0.1")
    form.locator("#f-imap_port").fill(str(imap.port))
    form.locator("#f-imap_security").select_option("none")
    form.locator("#f-imap_user").fill("support")
    form.locator("#f-smtp_host").fill("127.0.0.1")
    form.locator("#f-smtp_port").fill(str(smtp_server.port))
    form.locator("#f-smtp_security").select_option("none")

    form.locator("#f-imap_password").fill("secret")
    form.get_by_role("button", name="Test connection").click()
    imap_result = form.locator(".check-result[data-kind=imap]")
    expect(imap_result).to_have_class("check-result ok")
    expect(imap_result).to_contain_text("INBOX opened, 0 messages.")
    expect(form.locator(".check-result[data-kind=smtp]")).to_have_class("check-result ok")
    with page.expect_navigation():
        form.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_have_text("Mailbox Support saved.")
    row = page.locator("table.mailboxes tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("support@example.com")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("never")

    # Mail delivered to the mailbox becomes a ticket on the next poll.
    deliver(imap, make_mail(subject="Paket fehlt", text="Wo ist mein Paket?"))
    db.session.rollback()  # see the mailbox the live server saved
    [result] = poll()
    assert result.error is None and result.stored == 1, result.summary()
    db.session.rollback()
    ticket = db.session.execute(select(Ticket).where(Ticket.subject == "Paket fehlt")).scalar_one()
    channel = db.session.execute(select(Channel).where(Channel.kind == "email")).scalar_one()
    assert ticket.channel_id == channel.id
    db.session.rollback()  # no read transaction left open beside the live server
    page.reload()
    expect(row).not_to_contain_text("never")
    expect(row.locator("td.last-error")).to_have_text("none")
    page.screenshot(path=str(_shots(tmp_path) / "settings-mailboxes.png"), full_page=True)

    # A wrong password (last: Dovecot slows the next logins from an address that failed):
    # the server's refusal, shown before anything is saved.
    row.get_by_role("link", name="Support").click()
    form = page.locator("form.mailbox-form")
    expect(form.locator("#f-imap_password")).to_have_value("")  # never rendered back
    form.locator("#f-imap_password").fill("not the password")
    form.get_by_role("button", name="Test connection").click()
    imap_result = form.locator(".check-result[data-kind=imap]")
    expect(imap_result).to_have_class("check-result failed")
    expect(imap_result).to_contain_text("Failed")
    expect(imap_result).to_contain_text("Authentication failed")
    expect(form.locator(".check-result[data-kind=smtp]")).to_have_class("check-result ok")
    page.screenshot(path=str(_shots(tmp_path) / "settings-mailbox.png"), full_page=True)


class _ShopHandler(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args):
        pass


@pytest.fixture
def shop():
    """A company's website on its own loopback port (another origin than the helpdesk)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_ShopHandler,), {}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_widget_made_on_the_screen_runs_on_another_origin(page, chromium, admin, shop, tmp_path):
    log_in(page, admin.email)
    page.goto("/settings/chat-widgets/new")
    form = page.locator("form.widget-form")
    form.locator("#f-name").fill("Shop")
    form.locator("#f-origins").fill(shop.url)
    form.locator("#f-greeting").fill("Hallo! Wie können wir helfen?")
    form.locator("#f-offline_message").fill("Gerade ist niemand da. Wir antworten per Mail.")
    form.locator("#f-color").fill("#0f766e")
    with page.expect_navigation():
        form.get_by_role("button", name="Save").click()
    secret = page.locator("#identity-secret")
    expect(secret).to_be_visible()
    snippet = page.locator("textarea#embed-snippet")
    expect(snippet).to_have_js_property("readOnly", True)
    page.screenshot(path=str(_shots(tmp_path) / "settings-chat-widget.png"), full_page=True)
    shown = secret.text_content()
    page.goto("/settings/chat-widgets")
    page.get_by_role("link", name="Shop").click()  # the edit page: the secret is gone for good
    expect(snippet).to_be_visible()
    expect(page.locator("#identity-secret")).to_have_count(0)
    assert shown not in page.content()

    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    code = snippet.input_value()
    _ShopHandler.page = f"<!doctype html><title>Shop</title><h1>Shop</h1>{code}".encode()
    visitor = chromium.new_context(viewport={"width": 1000, "height": 800})
    try:
        tab = visitor.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(shop.url + "/")
        launcher = tab.locator("#helpdesk-chat button.hd-launcher")
        expect(launcher).to_be_visible()
        assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(15, 118, 110)"
        launcher.click()
        # Connected: the greeting comes with the server's session (the admin is online).
        expect(tab.locator(".hd-status")).to_have_attribute("data-online", "true")
        expect(tab.locator(".hd-notice")).to_have_text("Hallo! Wie können wir helfen?")
        assert errors == []
    finally:
        visitor.close()


def test_an_admin_adds_and_removes_a_phone_number(page, admin, tmp_path):
    log_in(page, admin.email)
    page.goto("/settings/phone-numbers/new")
    form = page.locator("form.number-form")
    form.locator("#f-number").fill("+49 30 1234567")
    form.locator("#f-team").select_option(label="Support")
    form.locator("#f-hours").fill("mon-fri 09:00-17:00")
    form.locator("#f-timezone").fill("Mars/Base")
    with page.expect_navigation():
        form.get_by_role("button", name="Save").click()
    expect(page.locator(".form-error")).to_have_text("Unknown time zone Mars/Base.")
    page.locator("form.number-form #f-timezone").fill("Europe/Berlin")
    with page.expect_navigation():
        page.locator("form.number-form").get_by_role("button", name="Save").click()
    row = page.locator("table.numbers tbody tr")
    expect(row).to_contain_text("+49301234567")
    expect(row).to_contain_text("Support")
    expect(row).to_contain_text("mon-fri 09:00-17:00 (Europe/Berlin)")
    page.screenshot(path=str(_shots(tmp_path) / "settings-phone-numbers.png"), full_page=True)
    row.get_by_role("link", name="+49301234567").click()
    page.locator("details.danger-zone summary").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Remove +49301234567").click()
    expect(page.locator(".flash")).to_have_text("Phone number +49301234567 removed.")
    expect(page.locator("p.empty")).to_be_visible()
