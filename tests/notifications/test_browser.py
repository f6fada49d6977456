"""The bell, the keyboard and the phone in Chromium: a colleague's mention pops the bell
of a second browser live; j/k/? and the other shortcuts, never while typing; the inbox,
the conversation and the customer page on a 390 px wide phone without sideways scrolling.
Phone screenshots go to docs/screenshots with HELPDESK_SCREENSHOTS=1."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from helpdesk import unit_of_work
from helpdesk.agents.services import team_named
from helpdesk.extensions import db
from helpdesk.tickets import replies, services
from helpdesk.tickets.models import Ticket
from tests.fixtures.browser import WAIT_MS, log_in, wait_for_socket

pytestmark = pytest.mark.slow  # browsers against a live server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BELOW = """() => [
  document.querySelector('.thread-column').getBoundingClientRect().bottom,
  document.querySelector('#customer-panel').getBoundingClientRect().top]"""
SELECTED = re.compile(r"\bselected\b")
PHONE = {"width": 390, "height": 844}
LONG_ADDRESS = (
    "bartholomew.featherstonehaugh-wolfeschlegelsteinhausen@very-long-company-name.example"
)


@pytest.fixture
def desk(app, make_agent, make_customer):
    """Lead Lena and agent Ann Smith in Support; three tickets of a customer with a long
    address, the newest with a message and an answer."""
    lena = make_agent("lena@example.com", role="lead", teams=["Support"], name="Lena Lead")
    ann = make_agent("ann@example.com", teams=["Support"], name="Ann Smith")
    customer = make_customer(
        "Bartholomew Featherstonehaugh", emails=[LONG_ADDRESS], phones=["+4915112345678"]
    )
    ids = []
    with unit_of_work.write_phase():
        support = team_named("Support").id
        for subject in ("Invoice twice", "Wrong size", "Parcel lost in transit"):
            ticket = services.open_ticket(
                {
                    "customer": customer.id,
                    "subject": subject,
                    "channel": "email",
                    "team": support,
                    "body": f"{subject}: please help, order 4711-{len(ids)}. {LONG_ADDRESS}",
                },
                lena,
            )
            ids.append(ticket.id)
        replies.reply(db.session.get(Ticket, ids[-1]), "We are on it.", lena, internal=True)
        unit_of_work.commit()
    return {"lena": lena, "ann": ann, "customer": customer.id, "tickets": ids}


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: docs/screenshots with HELPDESK_SCREENSHOTS=1, else away."""
    return SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path


def test_a_mention_in_a_note_pops_the_bell_of_the_colleague_live(
    page, chromium, live_server, desk, shots
):
    ticket = desk["tickets"][0]
    other = chromium.new_context(base_url=live_server, viewport={"width": 1400, "height": 900})
    other.set_default_timeout(WAIT_MS)
    try:
        ann = other.new_page()
        log_in(ann, "ann@example.com")
        wait_for_socket(ann)
        bell = ann.locator("#bell")
        expect(bell.locator(".bell-count")).to_be_hidden()

        log_in(page, "lena@example.com")
        page.goto(f"/tickets/{ticket}")
        page.locator("#reply textarea").fill("@Ann Smith can you check the invoice?")
        page.locator("#reply input[name=internal]").check()
        page.locator("#reply button[type=submit]").click()
        expect(page.locator("#thread .message.note").last).to_contain_text("can you check")

        expect(bell.locator(".bell-count")).to_have_text("1")  # live, no reload
        bell.locator(".bell-button").click()
        item = bell.locator(".bell-list li.unread").first
        expect(item).to_contain_text("You were mentioned")
        expect(item).to_contain_text("Lena Lead")
        expect(item.locator("a")).to_have_attribute("href", f"/tickets/{ticket}")
        ann.screenshot(path=str(shots / "notifications.png"))
        bell.locator(".bell-all").click()
        expect(bell.locator(".bell-count")).to_be_hidden()
        expect(bell.locator(".bell-list li.read")).to_have_count(1)
        # Which kinds also come by email: the page behind the bell.
        bell.locator("a[href='/profile/notifications']").click()
        ann.locator("input[name=email][value=mention]").check()
        ann.locator(".notification-settings button[type=submit]").click()
        expect(ann.locator(".saved")).to_be_visible()
        expect(ann.locator("input[name=email][value=mention]")).to_be_checked()
        expect(ann.locator("input[name=email][value=assigned]")).not_to_be_checked()
        ann.screenshot(path=str(shots / "notification-settings.png"))
        assert not page.seen.errors, page.seen.report()
    finally:
        other.close()


def test_keyboard_shortcuts_in_the_inbox_and_the_conversation(page, desk):
    newest, middle = desk["tickets"][2], desk["tickets"][1]
    log_in(page, "ann@example.com")
    wait_for_socket(page)
    rows = page.locator("table.inbox tbody tr")
    expect(rows).to_have_count(3)
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("Assign to me")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(SELECTED)
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows.nth(1)).to_have_class(SELECTED)
    expect(rows.nth(0)).not_to_have_class(SELECTED)
    # Typing in the search box types; it selects nothing.
    page.locator("input[name=q]").type("jk")
    expect(page.locator("input[name=q]")).to_have_value("jk")
    expect(rows.nth(1)).to_have_class(SELECTED)
    page.locator("input[name=q]").blur()
    page.keyboard.press("o")
    page.wait_for_url(f"**/tickets/{middle}")

    wait_for_socket(page)
    page.keyboard.press("n")
    expect(page.locator("#reply textarea")).to_be_focused()
    expect(page.locator("#reply input[name=internal]")).to_be_checked()
    page.keyboard.type("k and s")  # typed into the note, not taken as shortcuts
    expect(page.locator("#reply textarea")).to_have_value("k and s")
    assert page.url.endswith(f"/tickets/{middle}")
    page.locator("#reply textarea").blur()
    page.keyboard.press("a")
    expect(page.locator("#ticket-meta")).to_contain_text("Ann Smith")
    page.keyboard.press("s")
    expect(page.locator("#ticket-meta")).to_contain_text("solved")
    page.keyboard.press("k")  # the inbox's order: the newest ticket is above
    page.wait_for_url(f"**/tickets/{newest}")
    page.keyboard.press("g")
    page.keyboard.press("i")
    page.wait_for_url("**/inbox*")
    assert not page.seen.errors, page.seen.report()


def test_inbox_conversation_and_customer_fit_a_phone(chromium, live_server, desk, shots):
    context = chromium.new_context(
        base_url=live_server, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(WAIT_MS)
    try:
        phone = context.new_page()
        log_in(phone, "lena@example.com")
        ticket = desk["tickets"][2]
        pages = (
            ("/inbox", "phone-inbox.png", "table.inbox tbody tr"),
            (f"/tickets/{ticket}", "phone-ticket.png", "#customer-panel .card"),
            (f"/customers/{desk['customer']}", "phone-customer.png", "#customer-panel .card"),
        )
        for path, name, ready in pages:
            phone.goto(path)
            expect(phone.locator(ready).first).to_be_visible()
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide"
            if path.startswith("/tickets/"):
                # Both measured at one moment (the thread's frames may still grow).
                thread_bottom, panel_top = phone.evaluate(BELOW)
                assert panel_top >= thread_bottom - 1  # below the thread
                expect(phone.locator("#customer-panel")).to_contain_text(LONG_ADDRESS[:20])
            phone.screenshot(path=str(shots / name), full_page=path.startswith("/tickets/"))
    finally:
        context.close()
