"""Notifications: each kind stored with the change that causes it (assigned, mentioned in
a note, the customer replied, a low rating, an SLA warning), never for an agent who may not
see the ticket nor for what one did oneself; the email an agent chose; the API and the
settings page."""

from __future__ import annotations

import threading
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents.services import team_named
from helpdesk.channels.email.mailboxes import add_mailbox
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.notifications import mentions
from helpdesk.notifications import services as notifications
from helpdesk.notifications.models import Notification
from helpdesk.sla import notifications as sla_notifications
from helpdesk.surveys import services as surveys
from helpdesk.surveys.models import Survey, hash_token
from helpdesk.tickets import replies, services
from helpdesk.tickets.models import Ticket
from tests.fixtures.agents import login


@pytest.fixture
def desk(app, make_agent, make_customer):
    """Support (lead Lena, agents Ann Smith and Max), Billing (Bob); a customer's SMS ticket
    of Support."""
    lena = make_agent("lena@example.com", role="lead", teams=["Support"], name="Lena Lead")
    ann = make_agent("ann@example.com", teams=["Support"], name="Ann Smith")
    max_ = make_agent("max.power@example.com", teams=["Support"], name="Max")
    bob = make_agent("bob@example.com", teams=["Billing"], name="Bob")
    customer = make_customer("Ada", phones=["+4915112345678"])
    with unit_of_work.write_phase():
        ticket = services.open_ticket(
            {
                "customer": customer.id,
                "subject": "Parcel lost",
                "channel": "sms",
                "team": team_named("Support").id,
            },
            lena,
        )
        unit_of_work.commit()
    return {"lena": lena, "ann": ann, "max": max_, "bob": bob, "ticket": ticket.id}


def rows(agent) -> list[tuple[str, int | None, int | None]]:
    """(kind, ticket, actor) of the agent's notifications as committed, oldest first."""
    db.session.rollback()
    found = db.session.execute(
        select(Notification).where(Notification.agent_id == agent.id).order_by(Notification.id)
    ).scalars()
    return [(n.kind, n.ticket_id, n.actor_id) for n in found]


def act(action):
    """Run a service the way an endpoint does: one write transaction, one commit."""
    with unit_of_work.write_phase():
        result = action()
        unit_of_work.commit()
        return result


def ticket_of(desk) -> Ticket:
    return db.session.get(Ticket, desk["ticket"])


def test_assigning_tells_the_new_assignee_but_not_who_took_it_themselves(desk):
    lena, ann, max_ = desk["lena"], desk["ann"], desk["max"]
    act(lambda: services.update_ticket(ticket_of(desk), {"assignee": ann.id}, lena))
    assert rows(ann) == [("assigned", desk["ticket"], lena.id)]
    act(lambda: services.update_ticket(ticket_of(desk), {"assignee": max_.id}, max_))
    assert rows(max_) == []  # "assign to me" needs no telling
    assert rows(lena) == []
    opened = act(
        lambda: services.open_ticket(
            {"customer": ticket_of(desk).customer_id, "subject": "For Max", "assignee": max_.id},
            lena,
        )
    )
    assert rows(max_) == [("assigned", opened.id, lena.id)]


def test_a_note_tells_the_agents_it_mentions_who_may_see_the_ticket(desk):
    lena, ann, max_, bob = desk["lena"], desk["ann"], desk["max"], desk["bob"]
    text = "@ann smith and @max.power please check; @bob too; mail lena@example.com; @lena"
    act(lambda: replies.reply(ticket_of(desk), text, lena, internal=True))
    assert rows(ann) == [("mention", desk["ticket"], lena.id)]
    assert rows(max_) == [("mention", desk["ticket"], lena.id)]
    assert rows(bob) == []  # Billing may not see a Support ticket
    assert rows(lena) == []  # her own note
    # A reply to the customer mentions nobody, whatever it says.
    act(lambda: replies.reply(ticket_of(desk), "@ann", lena))
    assert len(rows(ann)) == 1


def test_mentions_match_whole_names_and_local_parts_only(desk):
    agents = [desk["ann"], desk["max"], desk["bob"]]
    assert mentions.names_in("@AnnSmith", agents) == [desk["ann"]]
    assert mentions.names_in("hi @max.power.", agents) == [desk["max"]]
    assert mentions.names_in("@annabel @bobby x@bob", agents) == []
    assert mentions.names_in("(@Bob)", agents) == [desk["bob"]]


def test_the_customer_replying_tells_the_assignee(desk, inbound):
    lena, ann = desk["lena"], desk["ann"]
    inbound("sms", "+4915112345678", "Before anyone was assigned")
    assert rows(ann) == []
    act(lambda: services.update_ticket(ticket_of(desk), {"assignee": ann.id}, lena))
    result = inbound("sms", "+4915112345678", "Any news on my parcel?")
    assert result.ticket.id == desk["ticket"]
    assert rows(ann) == [("assigned", desk["ticket"], lena.id), ("replied", desk["ticket"], None)]
    stored = db.session.execute(select(Notification).order_by(Notification.id.desc())).scalar()
    assert stored.text == "Any news on my parcel?"


def _rate(desk, rating, comment=None):
    ticket = ticket_of(desk)
    survey = Survey(
        ticket=ticket,
        customer_id=ticket.customer_id,
        channel="sms",
        language="en",
        token_hash=hash_token(f"t{rating}"),
        expires_at=utcnow() + timedelta(days=3),
    )
    db.session.add(survey)
    surveys.answer(survey, rating, comment)


def test_a_low_rating_tells_the_assignee_a_good_one_nobody(desk):
    lena, ann = desk["lena"], desk["ann"]
    act(lambda: services.update_ticket(ticket_of(desk), {"assignee": ann.id}, lena))
    act(lambda: _rate(desk, 4))
    assert [r[0] for r in rows(ann)] == ["assigned"]
    db.session.execute(Survey.__table__.delete())
    act(lambda: _rate(desk, 1, "Nobody read my mail"))
    assert [r[0] for r in rows(ann)] == ["assigned", "low_rating"]
    assert rows(lena) == [("low_rating", desk["ticket"], None)]  # leads: with a comment


def test_sla_warnings_land_under_the_bell_and_not_for_who_may_not_see(desk):
    ann, bob = desk["ann"], desk["bob"]
    act(
        lambda: sla_notifications.notify([ann, bob], "sla_warning", ticket_of(desk), "due in 9 min")
    )
    assert rows(ann) == [("sla_warning", desk["ticket"], None)]
    assert rows(bob) == []


def test_an_account_manager_is_not_told_about_other_accounts(desk, make_agent):
    manager = make_agent("am@example.com", teams=["Support"], name="Amy", own_accounts_only=True)
    act(lambda: replies.reply(ticket_of(desk), "@amy look", desk["lena"], internal=True))
    assert rows(manager) == []


def test_the_kinds_an_agent_chose_come_by_email(desk, smtp_server):
    ann, lena = desk["ann"], desk["lena"]
    with unit_of_work.write_phase():
        add_mailbox(
            "Support mail",
            "imap://s:pw@127.0.0.1:9/INBOX",
            f"smtp://127.0.0.1:{smtp_server.port}",
            "support@shop.example",
            team_named("Support"),
        )
        notifications.set_email_kinds(db.session.get(type(ann), ann.id), ["mention"])
        unit_of_work.commit()
    act(lambda: services.update_ticket(ticket_of(desk), {"assignee": ann.id}, lena))
    act(lambda: replies.reply(ticket_of(desk), "@ann see the tracking", lena, internal=True))
    received = smtp_server.handler_obj.received
    for _ in range(250):
        if received:
            break
        threading.Event().wait(0.02)
    assert [r["to"] for r in received] == [["ann@example.com"]]  # the mention, not the assignment
    mime = message_from_bytes(received[0]["data"], policy=policy.default)
    assert mime["Subject"].startswith("You were mentioned: #")
    assert "@ann see the tracking" in mime.get_content()


def test_the_api_lists_and_marks_only_the_callers_notifications(desk, api_as, count_queries):
    lena, ann, max_ = desk["lena"], desk["ann"], desk["max"]
    other = act(
        lambda: services.open_ticket(
            {"customer": ticket_of(desk).customer_id, "subject": "Another"}, lena
        )
    ).id
    for n, ticket in enumerate((desk["ticket"], desk["ticket"], other)):
        note = f"@ann @max.power {n}"
        act(
            lambda t=ticket, b=note: replies.reply(
                db.session.get(Ticket, t), b, lena, internal=True
            )
        )
    as_ann = api_as(ann)
    as_ann.get("/api/v1/notifications")  # (the token's first use is written down)
    with count_queries() as few:
        as_ann.get("/api/v1/notifications?per_page=1")
    with count_queries() as more:
        answer = as_ann.get("/api/v1/notifications?per_page=2").json
    assert len(more) == len(few)  # tickets and actors come with the page
    assert [n["text"] for n in answer["items"]] == ["@ann @max.power 2", "@ann @max.power 1"]
    assert answer["unread"] == 3 and answer["next"]
    first = answer["items"][0]
    assert first["kind"] == "mention" and first["actor"]["name"] == "Lena Lead"
    assert first["title"] == "You were mentioned" and first["ticket"]["id"] == other
    maxs = [n["id"] for n in api_as(max_).get("/api/v1/notifications").json["items"]]
    marked = as_ann.post("/api/v1/notifications/read", json={"ids": [first["id"], *maxs]})
    assert marked.status_code == 200 and marked.json == {"marked": 1, "unread": 2}
    unread = as_ann.get("/api/v1/notifications?unread=1").json["items"]
    assert first["id"] not in [n["id"] for n in unread] and len(unread) == 2
    assert api_as(max_).get("/api/v1/notifications?unread=1").json["unread"] == 3
    assert as_ann.post("/api/v1/notifications/read", json={"all": True}).json["unread"] == 0
    for bad in ({}, {"ids": [1], "all": True}, {"ids": "1"}, {"all": True, "x": 1}):
        assert as_ann.post("/api/v1/notifications/read", json=bad).status_code == 422
    assert as_ann.get("/api/v1/notifications?unread=2").status_code == 422


def test_the_settings_page_stores_the_email_choices(desk, client):
    login(client, "ann@example.com")
    page = client.get("/profile/notifications")
    assert page.status_code == 200 and b'value="mention"' in page.data
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    answer = client.post(
        "/profile/notifications",
        data={"csrf_token": token, "email": ["assigned", "sla_warning"]},
    )
    assert answer.status_code == 302
    assert notifications.email_kinds(db.session.get(type(desk["ann"]), desk["ann"].id)) == [
        "assigned",
        "sla_warning",
    ]
    refused = client.post("/profile/notifications", data={"csrf_token": token, "email": ["x"]})
    assert refused.status_code == 422
