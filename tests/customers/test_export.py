"""GET /api/v1/customers/ID/export: leads export what they may open, admins everything
(issue 15, finding 2)."""

from __future__ import annotations

import pytest

from helpdesk.agents.models import Team
from helpdesk.extensions import db

V1 = "/api/v1"


@pytest.fixture
def desk(api, make_agent, make_customer, make_ticket):
    """Ada with a ticket of Support, one of Billing (with an internal note), one of no
    team; Lea leads Support."""
    lea = make_agent("lea@example.com", role="lead", teams=["Support"], name="Lea")
    make_agent("bill@example.com", teams=["Billing"], name="Bill")
    ada = make_customer("Ada", emails=["ada@example.com"])
    support, billing = (
        db.session.query(Team.id).filter_by(name=n).scalar() for n in ("Support", "Billing")
    )
    tickets = {
        "support": make_ticket(ada, "Support matter", body="support text", team=support),
        "billing": make_ticket(ada, "Billing secret", body="billing text", team=billing),
        "nobody": make_ticket(ada, "Anyone's matter", body="open text"),
    }
    note = api.post(
        f"{V1}/tickets/{tickets['billing']}/messages",
        json={"body": "internal: card declined twice", "internal": True},
    )
    assert note.status_code == 201, note.json
    api.post(f"{V1}/customers/{ada.id}/notes", json={"body": "asked for an export"})
    return lea, ada, tickets


def test_a_lead_exports_only_the_tickets_they_may_open(api, api_as, desk):
    lea, ada, tickets = desk
    export = api_as(lea).get(f"{V1}/customers/{ada.id}/export")
    assert export.status_code == 200
    shown = {t["id"] for t in export.json["tickets"]}
    assert shown == {tickets["support"], tickets["nobody"]}
    text = str(export.json)
    assert "Billing secret" not in text and "card declined" not in text
    assert "billing text" not in text
    assert export.json["notes"][0]["body"] == "asked for an export"  # CRM data: every agent's
    # The same ticket answers 404 to Lea elsewhere:
    assert api_as(lea).get(f"{V1}/tickets/{tickets['billing']}").status_code == 404


def test_an_admin_exports_everything(api, desk):
    _, ada, tickets = desk
    export = api.get(f"{V1}/customers/{ada.id}/export").json
    assert {t["id"] for t in export["tickets"]} == set(tickets.values())
    billing = next(t for t in export["tickets"] if t["id"] == tickets["billing"])
    assert any("card declined" in (m["body_text"] or "") for m in billing["messages"])
