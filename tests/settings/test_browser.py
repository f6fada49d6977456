"""The settings screens in a browser (Debian's Chromium driven by Playwright, against the
live server): an admin invites an agent, the invitation arrives at a real SMTP server
(aiosmtpd), the new agent follows its link, sets a password and lands logged in; an SLA
policy defined on its screen shows its due time on a new ticket."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from playwright.sync_api import expect

from helpdesk import unit_of_work
from helpdesk.agents.services import team_named
from helpdesk.channels.email.mailboxes import add_mailbox
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from tests.fixtures.browser import VIEWPORT, log_in

pytestmark = pytest.mark.slow  # a browser against a live server
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _wait_for(condition, what: str, timeout: float = 10.0):
    """Poll ``condition`` until it answers something true (a mail arriving elsewhere)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_invited_agent_sets_a_password_and_lands_logged_in(
    page, chromium, live_server, admin, smtp_server, tmp_path
):
    with unit_of_work.write_phase():
        add_mailbox(
            "Support",
            "imap://desk:secret@127.0.0.1:9/INBOX",  # never polled here
            f"smtp://127.0.0.1:{smtp_server.port}",
            "support@example.com",
            team_named("Support"),
        )
        db.session.commit()
    shots = SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path
    log_in(page, admin.email)
    page.goto("/settings/")
    expect(page.locator(".settings-index")).to_contain_text("Agents")
    page.screenshot(path=str(shots / "settings.png"))
    page.click("text=Agents")
    page.click("text=Invite an agent")
    form = page.locator("#agent-form")
    form.locator("input[name=email]").fill("nina@example.com")
    form.locator("input[name=name]").fill("Nina Neu")
    form.locator("select[name=role]").select_option("lead")
    form.locator("label.check:has-text('Support') input").check()
    form.locator("input[name=capacity]").fill("8")
    page.screenshot(path=str(shots / "settings-agent.png"))
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.locator(".flash")).to_contain_text("nina@example.com")
    expect(page.locator("table.list")).to_contain_text("Nina Neu")

    received = _wait_for(lambda: smtp_server.handler_obj.received, "the invitation")
    assert received[0]["to"] == ["nina@example.com"]
    mail = message_from_bytes(received[0]["data"], policy=policy.default)
    text = mail.get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/set-password/\S+", text).group(0)

    invitee = chromium.new_context(base_url=live_server, viewport=VIEWPORT)
    try:
        tab = invitee.new_page()
        tab.goto(link)
        tab.fill("input[name=password]", "nina's password")
        tab.fill("input[name=confirm]", "nina's password")
        with tab.expect_navigation():
            tab.click("[type=submit]")
        tab.wait_for_url("**/inbox*")
        expect(tab.locator("header.top .logout")).to_contain_text("Nina Neu (lead)")
        tab.goto(link)  # used up
        expect(tab.locator("h1")).to_contain_text("no longer works")
    finally:
        invitee.close()
    assert not page.seen.errors, page.seen.report()


def test_an_sla_policy_shows_its_due_time_on_a_ticket(page, live_server, admin, make_ticket):
    log_in(page, admin.email)
    page.goto("/settings/sla")
    page.click("text=New policy")
    form = page.locator("#sla-form")
    form.locator("input[name=name]").fill("Standard")
    form.locator("input[name=first_response_minutes]").fill("0")
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.locator("#error-first_response_minutes")).to_be_visible()  # as the API says
    form.locator("input[name=first_response_minutes]").fill("45")
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.locator("table.list")).to_contain_text("45 min")

    ticket_id = make_ticket(None, "Where is my parcel?", customer_email="ada@example.com")
    db.session.rollback()
    ticket = db.session.get(Ticket, ticket_id)
    page.goto(f"/tickets/{ticket_id}")
    due = page.locator('#sla [data-target="first_response_due"]')
    expect(due).to_contain_text("first response due")
    shown = datetime.fromisoformat(due.locator("time").get_attribute("datetime"))
    assert shown == ticket.first_response_due
    assert shown - ticket.created_at == timedelta(minutes=45)
    assert not page.seen.errors, page.seen.report()


def test_an_admin_sets_up_a_team_a_macro_a_field_and_a_token(page, live_server, admin):
    log_in(page, admin.email)
    page.goto("/settings/teams")
    page.click("text=Support")
    form = page.locator("#team-form")
    form.locator("input[name=timezone]").fill("Europe/Berlin")
    form.locator("input[name='hours.mon']").fill("09:00-17:00")
    form.locator("textarea[name=holidays]").fill("2026-12-25")
    form.locator("select[name=assignment]").select_option("least_loaded")
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.locator(".flash")).to_contain_text("Support")
    expect(page.locator("input[name='hours.mon']")).to_have_value("09:00-17:00")

    page.goto("/settings/macros/new")
    form = page.locator("#macro-form")
    form.locator("input[name=name]").fill("Thanks")
    form.locator("textarea[name=body]").fill("Thank you, {{customer_name}}!")
    form.locator("select[name=team]").select_option(label="team Support")
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.locator("table.list")).to_contain_text("Thanks")

    page.goto("/settings/fields/new")
    form = page.locator("#field-form")
    form.locator("input[name=key]").fill("plan")
    form.locator("input[name=label]").fill("Plan")
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.locator("table.list")).to_contain_text("plan")

    page.goto("/settings/tokens")
    page.fill("input[name=name]", "wallboard")
    with page.expect_navigation():
        page.click("text=Create token")
    token = page.locator("#new-token").input_value()
    assert token.startswith("hd_")
    page.goto("/settings/tokens")  # the list again: the token's prefix, never the token
    expect(page.locator("table.list")).to_contain_text(token[:10])
    assert token not in page.content() and page.locator("#new-token").count() == 0
    assert not page.seen.errors, page.seen.report()
