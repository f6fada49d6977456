"""The reports' test desk: two teams, three agents, one SLA, and four tickets created,
answered, solved and reopened at known moments around the end of summer time in Berlin
(2026-10-25, 03:00 CEST -> 02:00 CET)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from helpdesk import unit_of_work
from helpdesk.extensions import db
from helpdesk.sla import policies as sla_policies
from helpdesk.tickets import replies, services
from helpdesk.tickets.models import Ticket

RANGE = "/api/v1/reports/overview?from=2026-10-24&to=2026-10-26&tz=Europe/Berlin"


def utc(day, hour, minute=0):
    """A moment of October 2026, in UTC."""
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def desk(make_agent, make_customer, admin):
    """Support (lead Lena, agent Ann) and Sales (agent Bob); an SLA of 60 minutes to the
    first response and 600 to the resolution, around the clock."""
    lead = make_agent("lena@example.com", role="lead", teams=["Support"], name="Lena")
    ann = make_agent("ann@example.com", teams=["Support"], name="Ann")
    bob = make_agent("bob@example.com", teams=["Sales"], name="Bob")
    with unit_of_work.write_phase():
        sla_policies.create(
            {"name": "std", "first_response_minutes": 60, "resolution_minutes": 600}, None
        )
        unit_of_work.commit()
    ada = make_customer("Ada", emails=["ada@example.com"])
    return {"lead": lead, "ann": ann, "bob": bob, "admin": admin, "ada": ada}


def _at(moment, action):
    """Run ``action`` with the clock at ``moment`` and commit."""
    with time_machine.travel(moment, tick=False), unit_of_work.write_phase():
        result = action()
        unit_of_work.commit()
        return result


def _open(desk, team_agent, channel, moment) -> int:
    team = team_agent.teams[0].id
    data = {"customer": desk["ada"].id, "subject": "Help", "channel": channel, "team": team}
    return _at(moment, lambda: services.open_ticket(data, desk["admin"]).id)


def ticket(ticket_id) -> Ticket:
    """The ticket with this id."""
    return db.session.get(Ticket, ticket_id)


def _reply(ticket_id, agent, moment):
    _at(moment, lambda: replies.reply(ticket(ticket_id), "On it", agent, internal=False))


def _status(ticket_id, agent, status, moment):
    _at(moment, lambda: services.update_ticket(ticket(ticket_id), {"status": status}, agent))


@pytest.fixture
def history(desk):
    """Four tickets around the change of time (local days in the comments)."""
    ann, bob, lead = desk["ann"], desk["bob"], desk["lead"]
    t1 = _open(desk, ann, "email", utc(24, 7))  # Oct 24 09:00 CEST
    _reply(t1, ann, utc(24, 7, 10))  # 10 min
    _status(t1, ann, "solved", utc(24, 9))  # 120 min, Oct 24
    t2 = _open(desk, ann, "sms", utc(24, 21, 30))  # Oct 24 23:30 CEST
    _reply(t2, ann, utc(24, 22, 30))  # 60 min: met, just
    t4 = _open(desk, lead, "email", utc(25, 0, 30))  # Oct 25 02:30 CEST (the first one)
    _reply(t4, lead, utc(25, 2, 30))  # 120 min (03:30 CET): breached
    _status(t4, lead, "solved", utc(25, 4, 30))  # 240 min, Oct 25
    t3 = _open(desk, bob, "chat", utc(25, 23, 15))  # Oct 26 00:15 CET (Oct 25 in UTC)
    _reply(t3, bob, utc(25, 23, 45))  # 30 min
    _status(t2, ann, "solved", utc(25, 23, 30))  # Oct 26 00:30 CET: 1560 min, breached
    _status(t4, lead, "open", utc(26, 8))  # reopened Oct 26
    _status(t4, lead, "solved", utc(26, 9))  # 1950 min since creation; its clock met
    return {"t1": t1, "t2": t2, "t3": t3, "t4": t4}


def get_report(api, url=RANGE):
    """GET ``url`` with the clock at Oct 27, 12:00 UTC (after the history)."""
    with time_machine.travel(utc(27, 12), tick=False):
        return api.get(url)
