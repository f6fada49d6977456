"""The customer's record (/customers/ID): the facts at its head, counted for the viewer."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk.agents.models import Team
from helpdesk.customers import history
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket


def test_the_facts_count_only_what_the_viewer_may_open(
    app, api, make_agent, make_customer, make_ticket
):
    ada = make_customer("Ada", emails=["ada@example.com"])
    billing = make_agent("bo@example.com", teams=["Billing"])
    support, billing_team = (
        db.session.execute(select(Team.id).where(Team.name == n)).scalar_one()
        for n in ("Support", "Billing")
    )
    support_ticket = make_ticket(ada, "Support question", team=support)
    make_ticket(ada, "Billing question", team=billing_team)
    solved = make_ticket(ada, "Old one", team=support)
    for number, total, currency in (
        ("A1", "10.50", "EUR"),
        ("A2", "4.50", "EUR"),
        ("A3", "7", "CHF"),
    ):
        assert api.put(
            f"/api/v1/orders/{number}",
            json={"customer": ada.id, "status": "delivered", "total": total, "currency": currency},
        ).status_code in (200, 201)
    api.patch(f"/api/v1/tickets/{solved}", json={"status": "solved"})
    db.session.get(Ticket, support_ticket).csat = {"rating": 2, "comment": "", "at": "x"}
    db.session.get(Ticket, solved).csat = {"rating": 5, "comment": "", "at": "x"}
    db.session.commit()

    everything = history.facts(ada)
    assert (everything["tickets"], everything["open_tickets"]) == (3, 2)
    assert everything["lifetime_value"] == [
        {"currency": "EUR", "total": "15.00", "orders": 2},
        {"currency": "CHF", "total": "7.00", "orders": 1},
    ]
    assert everything["satisfaction"] == {"average": 3.5, "ratings": 2}

    # Bo works in Billing: the Support tickets and their ratings are not his to count.
    bos = history.facts(ada, viewer=billing)
    assert (bos["tickets"], bos["open_tickets"], bos["satisfaction"]) == (1, 1, None)
