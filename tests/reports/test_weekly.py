"""The weekly report mail: Monday from 07:00 Berlin time each lead gets last week's
headline numbers for their teams (aiosmtpd receives them), once a week; an agent may
turn it on for themselves and a lead off."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
import time_machine

from helpdesk import unit_of_work
from helpdesk.agents.services import team_named
from helpdesk.channels.email.mailboxes import add_mailbox
from helpdesk.reports import weekly
from tests.reports.conftest import utc

MONDAY_EARLY = datetime(2026, 11, 2, 5, 30, tzinfo=UTC)  # 06:30 in Berlin
MONDAY = datetime(2026, 11, 2, 6, 5, tzinfo=UTC)  # 07:05 in Berlin


@pytest.fixture
def mailbox(app, smtp_server, desk):
    with unit_of_work.write_phase():
        channel = add_mailbox(
            "Support mail",
            "imap://support:pw@127.0.0.1:9/INBOX",
            f"smtp://127.0.0.1:{smtp_server.port}",
            "support@shop.example",
            team_named("Support"),
        )
        unit_of_work.commit()
    return channel


def _mails(smtp_server) -> dict[str, str]:
    """Each recipient's weekly mail: subject and text."""
    found = {}
    for raw in smtp_server.handler_obj.received:
        mail = message_from_bytes(raw["data"], policy=policy.default)
        found[raw["to"][0]] = f"{mail['Subject']}\n{mail.get_content()}"
    return found


def _send(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return weekly.send_weekly()


def test_leads_get_last_weeks_numbers_on_monday_morning_once(
    app, desk, history, mailbox, smtp_server, api_as
):
    # The history is of Oct 24-26; the week before Monday Nov 2 is Oct 26 - Nov 1.
    assert _send(MONDAY_EARLY) == 0
    assert _send(utc(27, 12)) == 0  # a Tuesday
    assert _send(MONDAY) == 1  # Lena, the only lead
    assert _send(MONDAY) == 0  # not twice a week
    mails = _mails(smtp_server)
    assert list(mails) == ["lena@example.com"]
    text = mails["lena@example.com"]
    # Lena's teams (Support) on Oct 26 - Nov 1: ticket 2 and ticket 4's second solve.
    assert "Your week in numbers: 0 created, 2 solved" in text
    assert "/reports?from=2026-10-26&to=2026-11-01" in text

    assert api_as(desk["lead"]).put("/api/v1/reports/weekly-mail", json={"weekly": False}).json == {
        "weekly": False
    }
    bob = api_as(desk["bob"])
    assert bob.get("/api/v1/reports/weekly-mail").json == {"weekly": False}
    assert bob.put("/api/v1/reports/weekly-mail", json={"weekly": True}).json == {"weekly": True}
    assert bob.put("/api/v1/reports/weekly-mail", json={"weekly": "yes"}).status_code == 422
    next_monday = datetime(2026, 11, 9, 7, 0, tzinfo=UTC)
    assert _send(next_monday) == 1
    assert "bob@example.com" in _mails(smtp_server)
