"""The settings screens through the test client: who sees which section (404 for what a
user may not see), forms refused as the API refuses them with the error beside the field,
the set-password link (single use, expiring), and API tokens shown once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents import passwords
from helpdesk.agents.models import Agent, ApiToken, PasswordLink, Team
from helpdesk.audit.models import AuditEvent
from helpdesk.automation.macros.models import Macro
from helpdesk.extensions import db
from helpdesk.fields.models import CustomField
from helpdesk.sla.models import SlaPolicy
from tests.fixtures.agents import login

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def post(web, path, data, via=None):
    """POST a settings form with the CSRF token of the page it is on."""
    token = _CSRF.search(web.get(via or path).get_data(as_text=True)).group(1)
    return web.post(path, data={**data, "csrf_token": token})


@pytest.fixture
def people(make_agent):
    """An admin, a lead of Support, an agent of Support, and a team Sales."""
    admin = make_agent("admin@example.com", role="admin", teams=["Support"], name="Admin")
    lead = make_agent("lena@example.com", role="lead", teams=["Support"], name="Lena")
    agent = make_agent("otto@example.com", role="agent", teams=["Support"], name="Otto")
    make_agent("sam@example.com", role="lead", teams=["Sales"], name="Sam")
    return admin, lead, agent


def test_each_role_sees_its_own_sections_and_404_for_the_rest(app, web_app, people):
    sales = db.session.execute(select(Team).where(Team.name == "Sales")).scalar_one()
    support = db.session.execute(select(Team).where(Team.name == "Support")).scalar_one()
    admin_web = login(web_app.test_client(), "admin@example.com")
    index = admin_web.get("/settings/").get_data(as_text=True)
    for path in (
        "/settings/agents",
        "/settings/teams",
        "/settings/mailboxes",
        "/settings/phone-numbers",
        "/settings/chat-widgets",
        "/settings/sla",
        "/settings/macros",
        "/settings/fields",
        "/settings/tokens",
        "/settings/audit",
    ):
        assert f'href="{path}"' in index, path
    assert "/settings/webhooks" not in index

    lead_web = login(web_app.test_client(), "lena@example.com")
    index = lead_web.get("/settings/").get_data(as_text=True)
    assert 'href="/settings/teams"' in index and 'href="/settings/sla"' in index
    assert 'href="/settings/agents"' not in index and 'href="/settings/mailboxes"' not in index
    assert lead_web.get("/settings/agents").status_code == 404
    assert lead_web.get("/settings/fields").status_code == 404
    assert lead_web.get(f"/settings/teams/{support.id}").status_code == 200
    assert lead_web.get(f"/settings/teams/{sales.id}").status_code == 404
    assert "Sales" not in lead_web.get("/settings/teams").get_data(as_text=True)

    agent_web = login(web_app.test_client(), "otto@example.com")
    index = agent_web.get("/settings/").get_data(as_text=True)
    assert 'href="/settings/macros"' in index and 'href="/profile"' in index
    assert 'href="/settings/teams"' not in index and 'href="/settings/sla"' not in index
    for path in (
        "/settings/agents",
        f"/settings/agents/{people[0].id}",
        "/settings/teams",
        f"/settings/teams/{support.id}",
        "/settings/sla",
        "/settings/sla/new",
        "/settings/fields",
        "/settings/fields/new",
    ):
        assert agent_web.get(path).status_code == 404, path
    assert agent_web.get("/settings/macros").status_code == 200


def test_the_agent_form_refuses_what_the_api_refuses_beside_the_field(app, web_app, people):
    web = login(web_app.test_client(), "admin@example.com")
    page = post(
        web,
        "/settings/agents/new",
        {"email": "otto@example.com", "name": "Otto", "role": "agent", "capacity": "20"},
    )
    assert page.status_code == 422
    assert 'id="error-email"' in page.get_data(as_text=True)
    page = post(
        web,
        "/settings/agents/new",
        {"email": "new@example.com", "name": "", "role": "boss", "capacity": "many"},
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    for field in ("name", "role", "capacity"):
        assert f'id="error-{field}"' in html, field
    assert db.session.execute(select(Agent).where(Agent.email == "new@example.com")).first() is None
    # An admin keeps their own role: the API's rule, through the same service.
    admin = people[0]
    page = post(
        web, f"/settings/agents/{admin.id}", {"name": "Admin", "role": "agent", "capacity": "20"}
    )
    assert page.status_code == 422
    db.session.rollback()
    assert db.session.get(Agent, admin.id).role == "admin"


def test_editing_deactivating_and_resetting_an_agent(app, web_app, people):
    _, _, otto = people
    web = login(web_app.test_client(), "admin@example.com")
    otto_web = login(web_app.test_client(), "otto@example.com")
    sales = db.session.execute(select(Team).where(Team.name == "Sales")).scalar_one()
    response = post(
        web,
        f"/settings/agents/{otto.id}",
        {
            "name": "Otto O.",
            "role": "lead",
            "capacity": "5",
            "teams": str(sales.id),
            "own_accounts_only": "on",
        },
    )
    assert response.status_code == 302
    db.session.rollback()
    otto = db.session.get(Agent, otto.id)
    assert (otto.name, otto.role, otto.capacity, otto.own_accounts_only) == (
        "Otto O.",
        "lead",
        5,
        True,
    )
    assert otto.team_ids == {sales.id}
    response = post(
        web, f"/settings/agents/{otto.id}/reset-password", {}, via=f"/settings/agents/{otto.id}"
    )
    assert response.status_code == 200  # no mailbox: the link is shown this once
    assert "/set-password/" in response.get_data(as_text=True)
    assert otto_web.get("/inbox").status_code == 302  # the role change ended the session
    otto_web = login(web_app.test_client(), "otto@example.com")
    post(
        web,
        f"/settings/agents/{otto.id}/active",
        {"active": "0"},
        via=f"/settings/agents/{otto.id}",
    )
    db.session.rollback()
    assert db.session.get(Agent, otto.id).active is False
    assert otto_web.get("/inbox").status_code == 302  # deactivated: the session ended
    actions = set(db.session.execute(select(AuditEvent.action)).scalars())
    assert {"agent.update", "agent.reset", "agent.deactivate"} <= actions or {
        "agent.reset",
        "agent.deactivate",
    } <= actions


def test_a_set_password_link_works_once_and_not_after_it_expires(app, web_app, people):
    otto = people[2]
    with unit_of_work.write_phase():
        _, clear = passwords.issue(db.session.get(Agent, otto.id), "reset")
        unit_of_work.commit()
    client = web_app.test_client()
    assert client.get("/set-password/not-a-token").status_code == 404
    page = client.get(f"/set-password/{clear}")
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    token = _CSRF.search(page.get_data(as_text=True)).group(1)
    short = client.post(
        f"/set-password/{clear}",
        data={"password": "short", "confirm": "short", "csrf_token": token},
    )
    assert short.status_code == 422 and 'id="error-password"' in short.get_data(as_text=True)
    done = client.post(
        f"/set-password/{clear}",
        data={"password": "a new password", "confirm": "a new password", "csrf_token": token},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/inbox")
    assert client.get("/inbox").status_code == 200  # logged in
    assert client.get(f"/set-password/{clear}").status_code == 404  # used up
    login(web_app.test_client(), "otto@example.com", "a new password")

    with unit_of_work.write_phase():
        row, clear = passwords.issue(db.session.get(Agent, otto.id), "invite")
        row.expires_at = row.created_at - timedelta(seconds=1)
        unit_of_work.commit()
    assert web_app.test_client().get(f"/set-password/{clear}").status_code == 404
    stored = db.session.execute(select(PasswordLink.token_hash)).scalars().all()
    assert clear not in stored


def test_an_api_token_is_shown_once(app, web_app, people):
    web = login(web_app.test_client(), "lena@example.com")
    bad = post(web, "/settings/tokens", {"name": "", "expires_at": "2001-01-01"})
    assert bad.status_code == 422
    assert 'id="error-name"' in bad.get_data(as_text=True)
    made = post(web, "/settings/tokens", {"name": "wallboard", "expires_at": ""})
    clear = re.search(r'id="new-token" readonly value="([^"]+)"', made.get_data(as_text=True))
    assert made.status_code == 200 and clear
    clear = clear.group(1)
    assert clear not in web.get("/settings/tokens").get_data(as_text=True)
    me = web_app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {clear}"})
    assert me.json["email"] == "lena@example.com"
    row = db.session.execute(select(ApiToken).where(ApiToken.name == "wallboard")).scalar_one()
    # Another agent's token does not exist for Otto; Lena revokes her own.
    otto_web = login(web_app.test_client(), "otto@example.com")
    assert (
        post(otto_web, f"/settings/tokens/{row.id}/revoke", {}, via="/settings/tokens").status_code
        == 404
    )
    assert (
        post(web, f"/settings/tokens/{row.id}/revoke", {}, via="/settings/tokens").status_code
        == 302
    )
    gone = web_app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {clear}"})
    assert gone.status_code == 401


def test_the_tokens_api(api_as, people):
    lena, otto = people[1], people[2]
    as_lena = api_as(lena)
    body = {"name": "cti box", "expires_at": "2030-01-01T00:00:00Z"}
    made = as_lena.post("/api/v1/tokens", json=body)
    assert made.status_code == 201, made.json
    assert made.json["token"].startswith("hd_")
    listed = as_lena.get("/api/v1/tokens").json["items"]
    assert made.json["id"] in [t["id"] for t in listed]
    assert all("token" not in t for t in listed)
    bad = as_lena.post("/api/v1/tokens", json={"name": "x", "expires_at": "2001-01-01T00:00:00Z"})
    assert bad.status_code == 422 and "expires_at" in bad.json["error"]["fields"]
    assert as_lena.post("/api/v1/tokens", json={"name": "x", "secret": 1}).status_code == 422
    assert api_as(otto).delete(f"/api/v1/tokens/{made.json['id']}").status_code == 404
    assert as_lena.delete(f"/api/v1/tokens/{made.json['id']}").status_code == 204


def test_sla_policy_form_validates_as_the_api_and_leads_may_use_it(app, web_app, people):
    web = login(web_app.test_client(), "lena@example.com")
    bad = post(web, "/settings/sla/new", {"name": "Standard", "first_response_minutes": "0"})
    assert bad.status_code == 422 and 'id="error-first_response_minutes"' in bad.get_data(
        as_text=True
    )
    empty = post(web, "/settings/sla/new", {"name": "Standard"})
    assert empty.status_code == 422  # a policy needs a target: the service says so
    ok = post(
        web,
        "/settings/sla/new",
        {"name": "Standard", "priority": "high", "first_response_minutes": "60"},
    )
    assert ok.status_code == 302
    policy = db.session.execute(select(SlaPolicy)).scalar_one()
    assert (policy.priority, policy.first_response_minutes) == ("high", 60)
    again = post(web, "/settings/sla/new", {"name": "Standard", "resolution_minutes": "5"})
    assert again.status_code == 422 and 'id="error-name"' in again.get_data(as_text=True)


def test_a_lead_sets_their_teams_hours_and_a_bad_hour_is_named(app, web_app, people):
    support = db.session.execute(select(Team).where(Team.name == "Support")).scalar_one()
    web = login(web_app.test_client(), "lena@example.com")
    path = f"/settings/teams/{support.id}"
    bad = post(
        web, path, {"timezone": "Europe/Berlin", "hours.mon": "9-17", "assignment": "manual"}
    )
    assert bad.status_code == 422 and 'id="error-hours.mon"' in bad.get_data(as_text=True)
    ok = post(
        web,
        path,
        {
            "timezone": "Europe/Berlin",
            "hours.mon": "09:00-12:00, 13:00-17:00",
            "holidays": "2026-12-25",
            "assignment": "round_robin",
        },
    )
    assert ok.status_code == 302
    db.session.rollback()
    team = db.session.get(Team, support.id)
    assert team.calendar["hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert team.calendar["holidays"] == ["2026-12-25"] and team.assignment == "round_robin"
    assert "team.update" in set(db.session.execute(select(AuditEvent.action)).scalars())
    # Adding a team is the admins'; a name taken is named beside the field.
    assert (
        post(web, "/settings/teams", {"name": "Billing"}, via="/settings/teams").status_code == 404
    )
    admin = login(web_app.test_client(), "admin@example.com")
    made = post(admin, "/settings/teams", {"name": "Billing"})
    assert made.status_code == 302
    taken = post(admin, "/settings/teams", {"name": "Billing"})
    assert taken.status_code == 422 and 'id="error-name"' in taken.get_data(as_text=True)
    db.session.rollback()
    assert "team.create" in set(db.session.execute(select(AuditEvent.action)).scalars())


def test_agents_write_personal_macros_only(app, web_app, people):
    support = db.session.execute(select(Team).where(Team.name == "Support")).scalar_one()
    web = login(web_app.test_client(), "otto@example.com")
    shared = post(
        web, "/settings/macros/new", {"name": "Hi", "body": "Hello", "team": str(support.id)}
    )
    assert shared.status_code == 422  # only leads and admins make team macros
    bad = post(web, "/settings/macros/new", {"name": "Hi", "body": "Hello {{ secret }}"})
    assert bad.status_code == 422 and 'id="error-body"' in bad.get_data(as_text=True)
    ok = post(
        web,
        "/settings/macros/new",
        {"name": "Hi", "body": "Hello {{customer_name}}", "status": "pending", "tags": "greeting"},
    )
    assert ok.status_code == 302
    db.session.rollback()  # a new transaction sees what the request committed
    macro = db.session.execute(select(Macro)).scalar_one()
    assert macro.owner_id == people[2].id and macro.actions == {
        "status": "pending",
        "tags": ["greeting"],
    }
    lena = login(web_app.test_client(), "lena@example.com")
    assert lena.get(f"/settings/macros/{macro.id}").status_code == 404


def test_custom_fields_form(app, web_app, people):
    web = login(web_app.test_client(), "admin@example.com")
    bad = post(
        web,
        "/settings/fields/new",
        {"key": "Tier", "label": "Tier", "type": "select", "applies_to": "customer", "options": ""},
    )
    assert bad.status_code == 422 and 'id="error-key"' in bad.get_data(as_text=True)
    none = post(
        web,
        "/settings/fields/new",
        {"key": "tier", "label": "Tier", "type": "select", "applies_to": "customer", "options": ""},
    )
    assert none.status_code == 422 and 'id="error-options"' in none.get_data(as_text=True)
    ok = post(
        web,
        "/settings/fields/new",
        {
            "key": "tier",
            "label": "Tier",
            "type": "select",
            "applies_to": "customer",
            "options": "gold\nsilver",
            "position": "1",
        },
    )
    assert ok.status_code == 302
    db.session.rollback()
    field = db.session.execute(select(CustomField)).scalar_one()
    assert (field.key, field.options, field.position) == ("tier", ["gold", "silver"], 1)
    renamed = post(
        web, f"/settings/fields/{field.id}", {"label": "Level", "options": "gold", "position": "2"}
    )
    assert renamed.status_code == 302
    db.session.rollback()
    assert (field.label, field.options) == ("Level", ["gold"])
