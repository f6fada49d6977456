"""SLAs in the browser: the inbox shows each ticket's due time, and a breach escalated by
the scan reaches the lead's open page as a notification, with the row updated, without a
reload (Debian's Chromium driven by Playwright, against the live server)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from helpdesk import unit_of_work
from helpdesk.agents.services import team_named
from helpdesk.db import utcnow
from helpdesk.sla import clocks as sla
from helpdesk.sla import policies as sla_policies
from helpdesk.sla import scan as sla_scan
from tests.fixtures.browser import assert_not_reloaded, log_in, mark_page, wait_for_socket

pytestmark = pytest.mark.slow  # a browser against a live server


def test_a_breach_escalates_to_the_lead_who_sees_it_at_once(page, live_server, make_agent, inbound):
    make_agent("lena@example.com", role="lead", teams=["Support"], name="Lena Lead")
    with unit_of_work.write_phase():
        team = team_named("Support")
        sla_policies.create(
            {"name": "standard", "first_response_minutes": 60, "resolution_minutes": 600}, None
        )
        unit_of_work.commit()
    late = inbound(
        "email",
        "ada@example.com",
        "Still broken",
        subject="Broken printer",
        received_at=utcnow() - timedelta(minutes=90),
    ).ticket
    soon = inbound(
        "email",
        "bob@example.com",
        "Hello",
        subject="Question",
        received_at=utcnow() - timedelta(minutes=50),
    ).ticket
    with unit_of_work.write_phase():
        from helpdesk.extensions import db
        from helpdesk.tickets.models import Ticket

        for ticket_id in (late.id, soon.id):
            db.session.get(Ticket, ticket_id).team_id = team.id
        unit_of_work.commit()
        sla.reapply()

    log_in(page, "lena@example.com")
    page.goto("/inbox?view=all")
    wait_for_socket(page)
    mark_page(page)
    late_row = page.locator(f'tr[data-ticket="{late.id}"]')
    soon_row = page.locator(f'tr[data-ticket="{soon.id}"]')
    expect(late_row.locator(".sla.breached")).to_contain_text("over")
    expect(soon_row.locator(".sla.near")).to_contain_text("in ")

    assert sla_scan.scan() == {"escalated": 1, "warned": 1}
    note = page.locator(".notification.escalated")
    expect(note).to_contain_text("Escalated to you")
    expect(note).to_contain_text(f"#{late.id}")
    expect(late_row.locator(".priority")).to_have_text("high")
    expect(late_row.locator(".assignee")).to_have_text("Lena Lead")
    # The other ticket has no assignee: its warning goes to the team's lead as well.
    expect(page.locator(".notification.sla_warning")).to_contain_text(f"#{soon.id}")
    assert_not_reloaded(page)
    note.locator("a").click()
    page.wait_for_url(f"**/tickets/{late.id}")
    expect(page.locator("#sla")).to_contain_text("first response due")
    assert not page.seen.errors, page.seen.report()


def test_the_conversation_follows_the_due_time_when_the_priority_changes(
    page, live_server, make_agent, inbound, api_as
):
    lead = make_agent("lena@example.com", role="lead", teams=["Support"], name="Lena Lead")
    with unit_of_work.write_phase():
        team = team_named("Support")
        sla_policies.create({"name": "standard", "first_response_minutes": 240}, None)
        sla_policies.create(
            {"name": "urgent", "priority": "urgent", "first_response_minutes": 15}, None
        )
        unit_of_work.commit()
    ticket = inbound("email", "ada@example.com", "Help", subject="Down").ticket
    log_in(page, "lena@example.com")
    page.goto(f"/tickets/{ticket.id}")
    wait_for_socket(page)
    mark_page(page)
    badge = page.locator("#sla .sla-now .sla")
    expect(badge).to_have_class("sla running")
    answer = api_as(lead).patch(
        f"/api/v1/tickets/{ticket.id}", json={"priority": "urgent", "team": team.id}
    )
    assert answer.status_code == 200
    expect(badge).to_have_class("sla near")
    expect(badge).to_contain_text("in 1")  # in 14 or 15 min
    assert_not_reloaded(page)
