"""Who may call what: anonymous callers on every route of the URL map, and the ticket and
role rules of agents.access for agents, leads and admins.

The routes come from ``app.url_map`` at test time, so a route added later is
covered without touching this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpdesk.agents.models import Team
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from tests.fixtures.agents import PUBLIC_ENDPOINTS, form_csrf

V1 = "/api/v1"


def is_public(rule) -> bool:
    """Whether a route is meant for anonymous callers."""
    return rule.endpoint in PUBLIC_ENDPOINTS


def fill(rule, values: dict) -> str:
    """The rule's path with plausible values for its parameters."""
    args = {}
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__
        if name in values:
            args[name] = values[name]
        elif converter in ("IntegerConverter", "NumberConverter"):
            args[name] = 1
        elif name == "filename":
            args[name] = "app.css"
        else:
            args[name] = "10023"
    return rule.build(args, append_unknown=False)[1]


@pytest.fixture
def things(api, make_customer, make_ticket):
    """One of everything a path parameter can name, so a route that forgot its check answers 200."""
    ada = make_customer("Ada", emails=["ada@example.com"], phones=["030 1234567"])
    ticket = make_ticket(ada)
    org = api.post(f"{V1}/organizations", json={"name": "Acme"}).json
    api.put(f"{V1}/orders/10023", json={"customer": ada.id})
    return {
        "customer_id": ada.id,
        "ticket_id": ticket,
        "org_id": org["id"],
        "organization_id": org["id"],
        "number": "10023",
    }


def anonymous_calls(app, things):
    """(rule, method, path) of every route that is not public, each method but HEAD/OPTIONS."""
    for rule in app.url_map.iter_rules():
        if is_public(rule):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, fill(rule, things)


def test_every_route_but_the_public_ones_refuses_an_anonymous_caller(app, client, things):
    token = form_csrf(client)  # this session's, so refusals come from the login check
    rows_before = db.session.scalar(select(func.count()).select_from(Customer))
    checked = set()
    for rule, method, path in anonymous_calls(app, things):
        response = client.open(
            path,
            method=method,
            json={"name": "Mallory", "subject": "x"},
            headers={"X-CSRFToken": token},
        )
        where = f"{method} {path} ({rule.endpoint}) answered {response.status_code}"
        if path.startswith("/api/"):
            assert response.status_code == 401, where
            assert response.json["error"]["code"] == "unauthorized", where
            assert set(response.json["error"]) == {"code", "message", "fields"}, where
        elif path.startswith("/webhooks/"):
            assert response.status_code == 403, where  # unsigned
        elif response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), where
        else:
            assert response.status_code == 401, where
        checked.add(rule.endpoint)
    assert db.session.scalar(select(func.count()).select_from(Customer)) == rows_before
    # The map really was walked: the API, the pages and the webhooks are all in it.
    assert {
        "customers_api.create_customer",
        "tickets_api.escalate",
        "inbox.inbox",
        "agents.logout",
        "twilio_webhooks.sms",
    } <= checked
    assert len(checked) >= 30


def test_api_routes_refuse_a_bad_or_revoked_token(app, client, things, make_agent, make_token):
    gone = make_agent("gone@example.com")
    revoked = make_token(gone)
    gone.active = False
    db.session.commit()
    for header in ("Bearer not-a-token", f"Bearer {revoked}", "Basic YWRtaW46YWRtaW4=", "Bearer "):
        for _rule, method, path in anonymous_calls(app, things):
            if not path.startswith("/api/"):
                continue
            response = client.open(path, method=method, json={}, headers={"Authorization": header})
            assert response.status_code == 401, (header, method, path)


def test_public_routes_answer_without_a_login(app, client):
    static = sorted(p.name for p in Path(app.static_folder).iterdir() if p.is_file())
    assert static, "no static file to fetch"
    for path in [f"/static/{static[0]}"] + [
        rule.rule
        for rule in app.url_map.iter_rules()
        if is_public(rule) and "GET" in rule.methods and not rule.arguments
    ]:
        with client.get(path) as response:
            assert response.status_code == 200, path


# --- tickets: who sees what ------------------------------------------------------


@pytest.fixture
def office(api, make_agent, make_customer, make_ticket):
    """Teams Support and Billing, their agents and lead, and tickets in every corner."""

    class Office:
        pass

    o = Office()
    o.pat = make_agent("pat@example.com", teams=["Support", "Billing"], name="Pat")
    o.sam = make_agent("sam@example.com", teams=["Support"], name="Sam")
    o.lea = make_agent("lea@example.com", role="lead", teams=["Support"], name="Lea")
    o.bill = make_agent("bill@example.com", teams=["Billing"], name="Bill")
    o.ada = make_customer("Ada", emails=["ada@example.com"], phones=["030 1234567"])
    support, billing = (
        db.session.execute(select(Team.id).where(Team.name == n)).scalar_one()
        for n in ("Support", "Billing")
    )

    def ticket(subject, **fields):
        return make_ticket(o.ada, subject, body=f"{subject} text", **fields)

    o.support = ticket("Support matter", team=support)
    o.billing = ticket("Billing secret", team=billing)
    o.nobody = ticket("Anyone's matter")
    o.pats_billing = ticket("Billing for Pat", team=billing, assignee=o.pat.id)
    # Pat has moved on from Billing since, but still holds that one ticket.
    o.pat.teams = [team for team in o.pat.teams if team.id != billing]
    db.session.commit()
    return o


def visible(client, **args) -> set[int]:
    """Ids of every ticket GET /tickets lists for this caller, all pages."""
    found, url = set(), f"{V1}/tickets"
    first = True
    while url:
        response = client.get(url, query_string=args if first else None)
        assert response.status_code == 200, response.json
        found |= {t["id"] for t in response.json["items"]}
        url, first = response.json["next"], False
    return found


def test_an_agent_sees_team_unteamed_and_own_tickets_only(api, api_as, office):
    pat, bill = api_as(office.pat), api_as(office.bill)
    assert api.get(f"{V1}/tickets/{office.pats_billing}").json["assignee"]["id"] == office.pat.id
    assert visible(pat) == {office.support, office.nobody, office.pats_billing}
    assert visible(bill) == {office.billing, office.nobody, office.pats_billing}
    assert visible(api) == {office.support, office.billing, office.nobody, office.pats_billing}
    assert visible(api_as(office.lea)) == {office.support, office.nobody}
    assert visible(pat, q="secret") == set() and visible(bill, q="secret") == {office.billing}
    assert visible(pat, q=f"#{office.billing}") == set()
    assert visible(bill, q=f"#{office.billing}") == {office.billing}
    billing = db.session.execute(select(Team.id).where(Team.name == "Billing")).scalar_one()
    assert visible(pat, customer=office.ada.id, team=billing) == {office.pats_billing}

    for method, suffix, body in (
        ("get", "", None),
        ("patch", "", {"status": "solved"}),
        ("get", "/messages", None),
        ("post", "/messages", {"body": "peek", "internal": True}),
        ("post", "/escalate", {"reason": "peek"}),
    ):
        response = getattr(pat, method)(f"{V1}/tickets/{office.billing}{suffix}", json=body)
        assert response.status_code == 404, (method, suffix)
        assert response.json["error"]["code"] == "not_found"
        # The same answer as for a ticket that does not exist at all: nothing is revealed.
        assert response.json == getattr(pat, method)(f"{V1}/tickets/999999{suffix}", json=body).json
    ticket = api.get(f"{V1}/tickets/{office.billing}").json
    assert ticket["status"] == "new" and ticket["message_count"] == 1
    assert ticket["priority"] == "normal"


def test_the_customer_history_shows_an_agent_only_tickets_they_may_open(api, api_as, office):
    def ticket_ids(client) -> set[int]:
        items = client.get(f"{V1}/customers/{office.ada.id}/timeline?per_page=200").json["items"]
        return {item["ticket"]["id"] for item in items if item["type"] in ("ticket", "message")}

    assert ticket_ids(api_as(office.pat)) == {office.support, office.nobody, office.pats_billing}
    assert ticket_ids(api) == {office.support, office.billing, office.nobody, office.pats_billing}
    card = api_as(office.sam).get(f"{V1}/lookup?email=ada@example.com").json
    assert {t["id"] for t in card["open_tickets"]} == {office.support, office.nobody}
    assert card["last_contact"]["ticket_id"] == office.nobody
    card = api.get(f"{V1}/lookup?email=ada@example.com").json
    assert len(card["open_tickets"]) == 4
    assert card["last_contact"]["ticket_id"] == office.pats_billing


def test_the_panel_shows_the_same_card_and_history_as_their_own_queries(api, office, make_ticket):
    """history.panel loads the card's tickets and orders together with the history's;
    what it shows is what card() and timeline() show, for every viewer and page size."""
    from helpdesk.customers import history

    billing = db.session.execute(select(Team.id).where(Team.name == "Billing")).scalar_one()
    for n in range(12):  # more open tickets than the card lists; some of them Billing's
        created = make_ticket(
            office.ada, f"Extra {n}", body="more", **({"team": billing} if n % 3 == 0 else {})
        )
        if n % 4 == 1:
            api.patch(f"{V1}/tickets/{created}", json={"status": "solved"})
    for n in range(7):  # more orders than the card lists
        api.put(f"{V1}/orders/P-{n}", json={"customer": office.ada.id, "status": "shipped"})
    api.post(f"{V1}/customers/{office.ada.id}/notes", json={"body": "a note"})
    db.session.expire_all()
    ada = db.session.get(Customer, office.ada.id)
    for viewer in (office.sam, office.pat, None):
        for per_page in (1, 3, 20, 200):
            got = history.panel(ada, per_page, viewer=viewer)
            entries, more = history.timeline(ada, 1, per_page, viewer=viewer)
            assert got == (history.card(ada, viewer=viewer), entries, more), (viewer, per_page)
    card = history.card(ada)  # everything: 13 open tickets, 7 orders
    assert len(card["open_tickets"]) == history.OPEN_ON_CARD
    assert len(card["recent_orders"]) == history.ORDERS_ON_CARD


def test_only_leads_and_admins_assign_to_others(api_as, office):
    pat, lea = api_as(office.pat), api_as(office.lea)
    refused = pat.patch(f"{V1}/tickets/{office.support}", json={"assignee": office.sam.id})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    opened = pat.post(
        f"{V1}/tickets", json={"customer": office.ada.id, "subject": "x", "assignee": office.sam.id}
    )
    assert opened.status_code == 403
    mine = pat.patch(f"{V1}/tickets/{office.support}", json={"assignee": office.pat.id})
    assert mine.status_code == 200 and mine.json["assignee"]["id"] == office.pat.id
    given = lea.patch(f"{V1}/tickets/{office.support}", json={"assignee": office.sam.id})
    assert given.status_code == 200 and given.json["assignee"]["id"] == office.sam.id
    kinds = [e["kind"] for e in lea.get(f"{V1}/tickets/{office.support}").json["events"]]
    assert kinds.count("assigned") == 2


def test_an_agent_cannot_push_a_ticket_into_another_team(api_as, office):
    billing = db.session.execute(select(Team.id).where(Team.name == "Billing")).scalar_one()
    pat = api_as(office.pat)
    moved = pat.patch(f"{V1}/tickets/{office.support}", json={"team": billing})
    assert moved.status_code == 403
    opened = pat.post(
        f"{V1}/tickets", json={"customer": office.ada.id, "subject": "x", "team": billing}
    )
    assert opened.status_code == 403
    lead = api_as(office.lea).patch(f"{V1}/tickets/{office.support}", json={"team": billing})
    assert lead.status_code == 200 and lead.json["team"]["name"] == "Billing"


def test_only_admins_erase_and_only_leads_and_admins_export(api, api_as, office):
    path = f"{V1}/customers/{office.ada.id}"
    for agent in (office.pat, office.lea):
        refused = api_as(agent).delete(path)
        assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert api_as(office.pat).get(f"{path}/export").status_code == 403
    assert api_as(office.lea).get(f"{path}/export").status_code == 200
    assert api.get(f"{path}/export").status_code == 200
    assert api_as(office.pat).get(path).status_code == 200  # reading the CRM is everyone's job
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_an_agent_cannot_move_a_ticket_to_no_team(api, api_as, office):
    """ "No team" shows a ticket, internal notes too, to every team (issue 15, finding 5)."""
    pat, sam = api_as(office.pat), api_as(office.sam)
    sam.post(f"{V1}/tickets/{office.support}/messages", json={"body": "inside", "internal": True})
    refused = pat.patch(f"{V1}/tickets/{office.support}", json={"team": None})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert api.get(f"{V1}/tickets/{office.support}").json["team"]["name"] == "Support"
    assert api_as(office.bill).get(f"{V1}/tickets/{office.support}").status_code == 404
    lead = api_as(office.lea).patch(f"{V1}/tickets/{office.support}", json={"team": None})
    assert lead.status_code == 200 and lead.json["team"] is None
