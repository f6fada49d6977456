"""The report's figures on a controlled clock: tickets created, answered, solved and
reopened at known moments on known channels, across the end of summer time in Berlin
(2026-10-25, 03:00 CEST -> 02:00 CET), give exact counts, medians, percentiles, backlog
per day and SLA compliance; and each role sees only what it may."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.extensions import db
from helpdesk.reports.models import ReportingEvent
from helpdesk.tickets import services
from tests.reports.conftest import RANGE, get_report, ticket


def test_exact_figures_on_local_days_across_the_change_of_time(api, desk, history):
    response = get_report(api)
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
    assert [
        (a["agent"]["name"], a["solved"], a["first_response_minutes_median"])
        for a in report["by_agent"]
    ] == [("Ann", 2, 35.0), ("Lena", 2, 120.0), ("Bob", 0, 30.0)]
    assert set(report) == {
        "created",
        "solved",
        "backlog",
        "first_response_minutes",
        "resolution_minutes",
        "sla",
        "csat",
        "by_day",
        "by_channel",
        "by_agent",
    }


def test_days_in_utc_are_other_days(api, desk, history):
    report = get_report(api, RANGE.replace("Europe/Berlin", "UTC")).json
    # Ticket 3 (00:15 CET) was created on Oct 25 in UTC; ticket 2 solved on Oct 25 too.
    assert [(d["created"], d["solved"]) for d in report["by_day"]] == [(2, 1), (2, 2), (0, 1)]
    assert report["backlog"] == 1


def test_filters_by_channel_team_and_agent(api, desk, history):
    email = get_report(api, RANGE + "&channel=email").json
    assert (email["created"], email["solved"]) == (2, 3)
    assert [d["backlog"] for d in email["by_day"]] == [0, 0, 0]
    sales = desk["bob"].teams[0].id
    team = get_report(api, RANGE + f"&team={sales}").json
    assert (team["created"], team["solved"], team["backlog"]) == (1, 0, 1)
    ann = get_report(api, RANGE + f"&agent={desk['ann'].id}").json
    assert ann["solved"] == 2 and ann["first_response_minutes"]["median"] == 35.0


def test_a_lead_sees_their_teams_and_an_agent_only_themselves(api_as, desk, history):
    lead = get_report(api_as(desk["lead"])).json
    assert (lead["created"], lead["solved"]) == (3, 4)
    assert [d["backlog"] for d in lead["by_day"]] == [1, 1, 0]
    assert {a["agent"]["name"] for a in lead["by_agent"]} == {"Ann", "Lena"}
    bob = get_report(api_as(desk["bob"])).json
    assert bob["solved"] == 0 and bob["first_response_minutes"]["median"] == 30.0
    assert [a["agent"]["name"] for a in bob["by_agent"]] == ["Bob"]
    sales = desk["bob"].teams[0].id
    assert get_report(api_as(desk["lead"]), RANGE + f"&team={sales}").status_code == 404
    assert get_report(api_as(desk["lead"]), RANGE + f"&agent={desk['bob'].id}").status_code == 404
    assert get_report(api_as(desk["bob"]), RANGE + f"&agent={desk['ann'].id}").status_code == 404


def test_an_account_manager_sees_only_their_accounts(api_as, make_agent, desk, history):
    manager = make_agent("am@example.com", role="lead", teams=["Support"], name="Am")
    with unit_of_work.write_phase():
        db.session.get(type(manager), manager.id).own_accounts_only = True
        unit_of_work.commit()
    report = get_report(api_as(manager)).json
    assert (report["created"], report["solved"]) == (0, 0)
    with unit_of_work.write_phase():
        desk["ada"].account_manager_id = manager.id
        db.session.merge(desk["ada"])
        unit_of_work.commit()
    report = get_report(api_as(manager)).json
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
        (e.kind, e.ticket_id)
        for e in db.session.query(ReportingEvent).all()
        if e.kind in ("created", "solved", "reopened")
    )
    t = history
    assert kinds == sorted(
        [
            ("created", t["t1"]),
            ("created", t["t2"]),
            ("created", t["t3"]),
            ("created", t["t4"]),
            ("solved", t["t1"]),
            ("solved", t["t2"]),
            ("solved", t["t4"]),
            ("solved", t["t4"]),
            ("reopened", t["t4"]),
        ]
    )
    before = db.session.query(ReportingEvent).count()
    with unit_of_work.write_phase():
        services.update_ticket(ticket(t["t3"]), {"status": "solved"}, desk["bob"])
        db.session.rollback()  # a refused request writes nothing: nor its events
    assert db.session.query(ReportingEvent).count() == before


def test_a_merge_keeps_the_events_and_surveys_with_the_tickets(api, desk, history):
    before = get_report(api).json
    other = api.post(
        "/api/v1/customers", json={"name": "Ada (2)", "emails": ["ada2@example.com"]}
    ).json["id"]
    ada = desk["ada"].id
    assert api.post(f"/api/v1/customers/{other}/merge", json={"from": ada}).status_code == 200
    after = get_report(api).json
    assert after == before
    left = db.session.execute(
        select(func.count()).select_from(ReportingEvent).where(ReportingEvent.customer_id == other)
    ).scalar_one()
    assert left == db.session.execute(select(func.count()).select_from(ReportingEvent)).scalar_one()
