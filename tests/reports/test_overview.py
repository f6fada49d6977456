"""The report's figures on a controlled clock: tickets created, answered, solved and
reopened at known moments on known channels, across the end of summer time in Berlin
(2026-10-25, 03:00 CEST -> 02:00 CET), give exact counts, medians, percentiles, backlog
per day and SLA compliance; and each role sees only what it may."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from helpdesk import unit_of_work
from helpdesk.extensions import db
from helpdesk.reports.models import ReportingEvent
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


def _ticket(ticket_id) -> Ticket:
    return db.session.get(Ticket, ticket_id)


def _reply(ticket_id, agent, moment):
    _at(moment, lambda: replies.reply(_ticket(ticket_id), "On it", agent, internal=False))


def _status(ticket_id, agent, status, moment):
    _at(moment, lambda: services.update_ticket(_ticket(ticket_id), {"status": status}, agent))


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


def _get(api, url=RANGE):
    with time_machine.travel(utc(27, 12), tick=False):
        return api.get(url)


def test_exact_figures_on_local_days_across_the_change_of_time(api, desk, history):
    response = _get(api)
    assert response.status_code == 200, response.json
    report = response.json
    assert report["by_day"] == [
        {"date": "2026-10-24", "created": 2, "solved": 1, "backlog": 1},
        {"date": "2026-10-25", "created": 1, "solved": 1, "backlog": 1},
        {"date": "2026-10-26", "created": 1, "solved": 2, "backlog": 1},
    ]
    assert (report["created"], report["solved"], report["backlog"]) == (4, 4, 1)
    assert report["first_response_minutes"] == {"median": 45.0, "p90": 102.0}
    assert report["resolution_minutes"] == {"median": 900.0, "p90": 1833.0}
    assert report["sla"] == {"met": 6, "breached": 2, "compliance": 0.75}
    assert report["csat"] == {"responses": 0, "average": None, "satisfied_share": None}
    assert report["by_channel"] == {
        "chat": {"created": 1, "solved": 0},
        "email": {"created": 2, "solved": 3},
        "sms": {"created": 1, "solved": 1},
    }
    assert [(a["agent"]["name"], a["solved"], a["first_response_minutes_median"])
            for a in report["by_agent"]] == [("Ann", 2, 35.0), ("Lena", 2, 120.0), ("Bob", 0, 30.0)]
    assert set(report) == {
        "created", "solved", "backlog", "first_response_minutes", "resolution_minutes",
        "sla", "csat", "by_day", "by_channel", "by_agent",
    }


def test_days_in_utc_are_other_days(api, desk, history):
    report = _get(api, RANGE.replace("Europe/Berlin", "UTC")).json
    # Ticket 3 (00:15 CET) was created on Oct 25 in UTC; ticket 2 solved on Oct 25 too.
    assert [(d["created"], d["solved"]) for d in report["by_day"]] == [(2, 1), (2, 2), (0, 1)]
    assert report["backlog"] == 1


def test_filters_by_channel_team_and_agent(api, desk, history):
    email = _get(api, RANGE + "&channel=email").json
    assert (email["created"], email["solved"]) == (2, 3)
    assert [d["backlog"] for d in email["by_day"]] == [0, 0, 0]
    sales = desk["bob"].teams[0].id
    team = _get(api, RANGE + f"&team={sales}").json
    assert (team["created"], team["solved"], team["backlog"]) == (1, 0, 1)
    ann = _get(api, RANGE + f"&agent={desk['ann'].id}").json
    assert ann["solved"] == 2 and ann["first_response_minutes"]["median"] == 35.0


def test_a_lead_sees_their_teams_and_an_agent_only_themselves(api_as, desk, history):
    lead = _get(api_as(desk["lead"])).json
    assert (lead["created"], lead["solved"]) == (3, 4)
    assert [d["backlog"] for d in lead["by_day"]] == [1, 1, 0]
    assert {a["agent"]["name"] for a in lead["by_agent"]} == {"Ann", "Lena"}
    bob = _get(api_as(desk["bob"])).json
    assert bob["solved"] == 0 and bob["first_response_minutes"]["median"] == 30.0
    assert [a["agent"]["name"] for a in bob["by_agent"]] == ["Bob"]
    sales = desk["bob"].teams[0].id
    assert _get(api_as(desk["lead"]), RANGE + f"&team={sales}").status_code == 404
    assert _get(api_as(desk["lead"]), RANGE + f"&agent={desk['bob'].id}").status_code == 404
    assert _get(api_as(desk["bob"]), RANGE + f"&agent={desk['ann'].id}").status_code == 404


def test_an_account_manager_sees_only_their_accounts(api_as, make_agent, desk, history):
    manager = make_agent("am@example.com", role="lead", teams=["Support"], name="Am")
    with unit_of_work.write_phase():
        db.session.get(type(manager), manager.id).own_accounts_only = True
        unit_of_work.commit()
    report = _get(api_as(manager)).json
    assert (report["created"], report["solved"]) == (0, 0)
    with unit_of_work.write_phase():
        desk["ada"].account_manager_id = manager.id
        db.session.merge(desk["ada"])
        unit_of_work.commit()
    report = _get(api_as(manager)).json
    assert (report["created"], report["solved"]) == (3, 4)


@pytest.mark.parametrize(
    "query, field",
    [
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-10-26&to=2026-10-24", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=../../etc/passwd", "tz"),
        ("channel=fax", "channel"),
        ("team=abc", "team"),
    ],
)
def test_bad_arguments_answer_422_naming_them(api, query, field):
    response = api.get(f"/api/v1/reports/overview?{query}")
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def test_events_are_written_with_the_change_and_only_then(app, desk, history):
    kinds = sorted(
        (e.kind, e.ticket_id) for e in db.session.query(ReportingEvent).all()
        if e.kind in ("created", "solved", "reopened")
    )
    t = history
    assert kinds == sorted(
        [("created", t["t1"]), ("created", t["t2"]), ("created", t["t3"]), ("created", t["t4"]),
         ("solved", t["t1"]), ("solved", t["t2"]), ("solved", t["t4"]), ("solved", t["t4"]),
         ("reopened", t["t4"])]
    )
    before = db.session.query(ReportingEvent).count()
    with unit_of_work.write_phase():
        services.update_ticket(_ticket(t["t3"]), {"status": "solved"}, desk["bob"])
        db.session.rollback()  # a refused request writes nothing: nor its events
    assert db.session.query(ReportingEvent).count() == before
