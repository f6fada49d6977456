"""/reports in a real browser: the charts draw from the report, and changing the range
fetches the body again and redraws them without a reload. The page's contract:
``form#report-filters`` (``input[name=preset]``, ``from``, ``to``, ``team``, ``channel``,
``agent``), ``#report`` with ``data-range`` (FROM/TO) and ``data-drawn`` (the number of
charts drawn), ``#figure-created``, a ``canvas[data-chart]`` per chart with a table."""

from __future__ import annotations

import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import expect

from helpdesk import unit_of_work
from helpdesk.agents.models import Agent
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.reports import weekly
from helpdesk.tickets import replies, services
from helpdesk.tickets.models import Ticket
from tests.fixtures.browser import log_in

pytestmark = pytest.mark.slow  # a browser against a live server
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _history(admin, agents, customers, days=28, seed=7):
    """Tickets over the last ``days`` days, answered and mostly solved, through the
    services on a travelling clock; answers how many were created in the last 7 days."""
    rng = random.Random(seed)
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    recent = 0
    for day in range(days, -1, -1):
        weekday = (now - timedelta(days=day)).weekday()
        for _ in range(rng.randint(1, 3) if weekday >= 5 else rng.randint(3, 7)):
            start = now - timedelta(days=day, hours=rng.randint(0, 10), minutes=rng.randint(0, 59))
            agent = rng.choice(agents)
            data = {
                "customer": rng.choice(customers).id,
                "subject": "Where is my order?",
                "channel": rng.choice(("email", "email", "sms", "chat")),
                "team": agent.teams[0].id,
            }
            with time_machine.travel(start, tick=False), unit_of_work.write_phase():
                ticket_id = services.open_ticket(data, admin).id
                unit_of_work.commit()
            if (utcnow() - start) < timedelta(days=7) - timedelta(hours=1):
                recent += 1
            answered = start + timedelta(minutes=rng.randint(5, 240))
            if answered < now:
                with time_machine.travel(answered, tick=False), unit_of_work.write_phase():
                    replies.reply(db.session.get(Ticket, ticket_id), "On it", agent)
                    unit_of_work.commit()
            solved = answered + timedelta(hours=rng.randint(1, 30))
            if solved < now and rng.random() < 0.85:
                with time_machine.travel(solved, tick=False), unit_of_work.write_phase():
                    services.update_ticket(
                        db.session.get(Ticket, ticket_id), {"status": "solved"}, agent
                    )
                    unit_of_work.commit()
    return recent


def test_the_lead_opens_reports_changes_the_range_and_the_charts_redraw(
    page, live_server, make_agent, make_customer, admin, tmp_path
):
    lead = make_agent("lena@example.com", role="lead", teams=["Support"], name="Lena Lead")
    ann = make_agent("ann@example.com", teams=["Support"], name="Ann Agent")
    customers = [make_customer(f"Customer {n}", emails=[f"c{n}@example.com"]) for n in range(5)]
    _history(admin, [lead, ann], customers)
    lead_id = lead.id
    db.session.rollback()

    log_in(page, "lena@example.com")
    page.goto("/reports")
    report = page.locator("#report")
    expect(report).to_have_attribute("data-drawn", "4")
    thirty = report.get_attribute("data-range")
    created_30 = int(page.locator("#figure-created").inner_text())
    assert created_30 > 0
    page.evaluate("() => { window.__noReload = 'still here'; }")
    page.locator('input[name=preset][value="7d"]').check()
    expect(report).not_to_have_attribute("data-range", thirty)
    expect(page.locator("#report")).to_have_attribute("data-drawn", "4")
    created_7 = int(page.locator("#figure-created").inner_text())
    assert 0 < created_7 < created_30
    assert page.evaluate("() => window.__noReload") == "still here"
    assert "preset=7d" in page.url
    # Each chart's numbers are a table below it: the backlog table has a row a day.
    rows = page.locator("section[aria-labelledby=h-backlog] table tbody tr")
    expect(rows).to_have_count(7)
    assert not page.seen.errors, page.seen.report()

    page.locator('input[name=preset][value="30d"]').check()
    expect(page.locator("#report")).to_have_attribute("data-range", thirty)
    shots = SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path
    expect(page.locator("#report")).to_have_attribute("data-drawn", "4")
    page.screenshot(path=str(shots / "reports.png"), full_page=False)

    # The weekly mail: on for a lead until they untick it.
    box = page.locator("#weekly-mail")
    expect(box).to_be_checked()
    with page.expect_response("**/api/v1/reports/weekly-mail"):
        box.uncheck()
    db.session.rollback()
    assert weekly.setting(db.session.get(Agent, lead_id)) is False
