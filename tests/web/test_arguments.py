"""URL arguments and fields that once answered 500 (issue 15, finding 13): one parser for the
pages and the API (web/args.py), integers bounded, NUL characters refused, time zones
validated, a CTI ``user`` of digits bounded."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helpdesk.agents.models import Team
from helpdesk.extensions import db
from tests.fixtures.agents import login

HUGE = "9" * 30
HOSTILE = [HUGE, "-" + HUGE, "9" * 5000, "1e5", "²", "x"]


@pytest.fixture
def browser(client, admin):
    return login(client, "admin@example.com")


def assert_refused(response, field: str) -> None:
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    fields = response.json["error"]["fields"]
    assert any(key == field or key.startswith(f"{field}.") for key in fields), fields


@pytest.mark.parametrize("value", HOSTILE)
def test_page_integers_are_bounded_whole_numbers(browser, make_customer, make_ticket, value):
    ticket = make_ticket(make_customer("Ada", emails=["ada@example.com"]))
    for path, name in [
        (f"/tickets/{ticket}", "before"),
        (f"/tickets/{ticket}/thread", "after"),
        ("/inbox", "page"),
        ("/board", "team"),
        ("/board", "sla_page"),
    ]:
        assert_refused(browser.get(path, query_string={name: value}), name)


def test_page_integers_in_range_still_work(browser, make_customer, make_ticket):
    ticket = make_ticket(make_customer("Ada", emails=["ada@example.com"]))
    assert browser.get(f"/tickets/{ticket}?before=0").status_code == 200
    assert browser.get(f"/tickets/{ticket}?before=2147483647").status_code == 200
    assert browser.get("/inbox?page=3").status_code == 200
    assert browser.get("/inbox?page=").status_code == 200


@pytest.mark.parametrize("path", ["/inbox?q=a%00b", "/inbox?tag=%00", "/customers/1?x%00=1"])
def test_pages_refuse_nul_characters_like_the_api(browser, path):
    response = browser.get(path)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid"


def test_api_integers_refuse_superscripts_and_huge_values(api):
    for value in ["²", "9" * 5000, HUGE]:
        assert_refused(api.get("/api/v1/tickets", query_string={"page": value}), "page")


@pytest.mark.parametrize("zone", ["x" * 5000, "../../etc/passwd", "Europe/Nowhere", "", "utc/"])
def test_a_team_calendar_with_a_bad_time_zone_is_refused(api, zone):
    team = db.session.execute(select(Team).where(Team.name == "Support")).scalar_one()
    calendar = {"timezone": zone, "hours": {"mon": [["09:00", "17:00"]]}}
    response = api.patch(f"/api/v1/teams/{team.id}", json={"calendar": calendar})
    if zone == "":  # no time zone: UTC
        assert response.status_code == 200
        return
    assert_refused(response, "calendar")
    db.session.expire_all()
    assert db.session.get(Team, team.id).calendar is None


def test_a_team_calendar_with_a_real_time_zone_is_kept(api):
    team = db.session.execute(select(Team).where(Team.name == "Support")).scalar_one()
    calendar = {"timezone": "Europe/Berlin", "hours": {"mon": [["09:00", "17:00"]]}}
    response = api.patch(f"/api/v1/teams/{team.id}", json={"calendar": calendar})
    assert response.status_code == 200
    assert response.json["calendar"]["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize("user", ["9" * 300, "²", "0", "99999999999"])
def test_a_cti_user_of_digits_is_no_agent_rather_than_a_500(api_as, admin, user):
    response = api_as(admin, "cti").post(
        "/api/v1/cti/events",
        json={
            "event": "newCall",
            "callId": "c-1",
            "from": "+49301234567",
            "to": "+49309999",
            "user": user,
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    assert response.json["call"]["agent_id"] is None


def test_a_cti_user_naming_an_agent_id_still_finds_them(api_as, admin):
    response = api_as(admin, "cti").post(
        "/api/v1/cti/events",
        json={"event": "answer", "callId": "c-2", "from": "+49301234567", "user": str(admin.id)},
    )
    assert response.status_code == 200
    assert response.json["call"]["agent_id"] == admin.id
