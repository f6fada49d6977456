"""`helpdesk init --demo`: a live-looking helpdesk, seeded once, whose login works."""
from __future__ import annotations

import re

from sqlalchemy import distinct, func, select

from helpdesk.customers.models import ORDER_STATUSES, Customer, Identity, Order
from helpdesk.extensions import db
from helpdesk.tickets.models import Call, Message, Ticket


def test_demo_seeds_every_channel_and_status_once_and_its_login_works(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init", "--demo"])
    assert first.exit_code == 0, first.output
    assert "admin@demo.helpdesk" in first.output and "demo-admin" in first.output

    channels = set(db.session.scalars(select(Ticket.channel).distinct()))
    assert channels == {"email", "sms", "voice", "chat", "web"}
    assert set(db.session.scalars(select(Ticket.status).distinct())) == {
        "new", "open", "pending", "solved", "closed"}
    assert set(db.session.scalars(select(Order.status).distinct())) == set(ORDER_STATUSES)
    assert db.session.scalar(select(func.count(Customer.id))) >= 300
    assert db.session.scalar(select(func.count(Call.id))) > 0
    outbound = db.session.scalar(select(func.count(Message.id)).where(Message.direction == "out"))
    assert outbound > 0
    # Ingest matched returning senders to their customer: no identity owned twice.
    assert db.session.scalar(select(func.count(Identity.id))) == db.session.scalar(
        select(func.count(distinct(Identity.value))))

    counts = db.session.scalar(select(func.count(Ticket.id)))
    again = runner.invoke(args=["init", "--demo"])
    assert again.exit_code == 0 and "not seeded" in again.output
    assert db.session.scalar(select(func.count(Ticket.id))) == counts

    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post("/login", data={"email": "admin@demo.helpdesk",
                                           "password": "demo-admin", "csrf_token": csrf},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Alex Admin" in response.get_data(as_text=True)
