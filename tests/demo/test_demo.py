"""`helpdesk init --demo`: a live-looking helpdesk, seeded once, matched by identity, whose
printed login works."""

from __future__ import annotations

import re
from datetime import timedelta

import phonenumbers
import pytest
from markupsafe import escape
from sqlalchemy import and_, distinct, exists, func, select

from helpdesk.customers.models import ORDER_STATUSES, Customer, Identity, Note, Order, OrderLine
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets.models import (
    PRIORITIES,
    STATUSES,
    Call,
    Message,
    Ticket,
    TicketEvent,
    TicketTag,
)

pytestmark = pytest.mark.slow  # seeds the whole demo: seconds

CHANNELS = {"email", "sms", "voice", "chat", "web"}


def scalar(query):
    """One value from the database."""
    return db.session.scalar(query)


def counts() -> dict:
    """How many rows the demo made, per kind."""
    return {
        model.__name__: scalar(select(func.count()).select_from(model))
        for model in (Customer, Order, Ticket, Message, Call, TicketEvent, Note)
    }


def check_variety() -> None:
    """Every channel, ticket status, priority and order status; the CRM filled in."""
    assert set(db.session.scalars(select(Ticket.channel).distinct())) == CHANNELS
    assert set(db.session.scalars(select(Ticket.status).distinct())) == set(STATUSES)
    assert set(db.session.scalars(select(Ticket.priority).distinct())) == set(PRIORITIES)
    assert set(db.session.scalars(select(Order.status).distinct())) == set(ORDER_STATUSES)
    assert (
        scalar(
            select(func.count())
            .select_from(Order)
            .where(~exists().where(OrderLine.order_id == Order.id))
        )
        == 0
    )
    assert (
        scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.status == "shipped", Order.tracking_url.is_(None))
        )
        == 0
    )
    assert set(db.session.scalars(select(Customer.language).distinct())) == {"de", "en"}
    assert scalar(select(func.count()).select_from(Customer).where(Customer.key_person)) >= 20
    assert scalar(select(func.count(distinct(Customer.organization_id)))) >= 20
    phones = list(db.session.scalars(select(Identity.value).where(Identity.kind == "phone")))
    assert len(phones) > 200
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones)
    assert len({phonenumbers.parse(p).country_code for p in phones}) >= 4
    assert {True, False} == set(
        db.session.scalars(select(Ticket.assignee_id.is_not(None)).distinct())
    )
    assert scalar(select(func.count()).select_from(TicketTag)) > 50
    assert scalar(select(func.count()).select_from(Message).where(Message.direction == "note")) > 10
    assert scalar(select(func.count()).select_from(Note)) > 5


def check_history_is_consistent() -> None:
    """Counters, first responses and dates agree with the messages; nothing waits to be sent."""
    now = utcnow()
    per_ticket = (
        select(
            Message.ticket_id,
            func.count().label("n"),
            func.min(Message.created_at).label("first"),
            func.max(Message.created_at).label("last"),
        )
        .group_by(Message.ticket_id)
        .subquery()
    )
    first_out = (
        select(Message.ticket_id, func.min(Message.created_at).label("at"))
        .where(Message.direction == "out")
        .group_by(Message.ticket_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Ticket, per_ticket.c.n, per_ticket.c.first, per_ticket.c.last, first_out.c.at)
        .join(per_ticket, per_ticket.c.ticket_id == Ticket.id)
        .outerjoin(first_out, first_out.c.ticket_id == Ticket.id)
    ).all()
    assert len(rows) == scalar(select(func.count()).select_from(Ticket))
    for ticket, n, first, last, answered in rows:
        assert ticket.message_count == n, ticket
        assert ticket.created_at == first and ticket.last_message_at == last, ticket
        if answered is not None:
            assert ticket.first_response_at == answered, ticket
            assert ticket.status != "new", ticket
        assert (ticket.solved_at is not None) == (ticket.status in ("solved", "closed")), ticket
    assert scalar(select(func.min(Ticket.created_at))) < now - timedelta(days=45)
    assert scalar(select(func.count(distinct(func.date(Ticket.created_at))))) >= 30
    for column in (
        Message.created_at,
        TicketEvent.created_at,
        Ticket.updated_at,
        Customer.last_contact_at,
    ):
        assert scalar(select(func.max(column))) <= now, column
    outbound = (
        select(Message.status, Message.sent_at.is_not(None))
        .where(Message.direction == "out")
        .distinct()
    )
    assert db.session.execute(outbound).all() == [("sent", True)]
    assert (
        scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == "status"))
        > 100
    )


def check_matched_by_identity(printed_customers: int) -> None:
    """Ingest found every sender's customer: none created, one customer per address."""
    assert scalar(select(func.count()).select_from(Customer)) == printed_customers
    assert scalar(select(func.count()).select_from(Identity)) == scalar(
        select(func.count(distinct(Identity.value)))
    )
    # Every conversation runs on an address of its own customer.
    assert (
        scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                ~exists().where(
                    and_(
                        Identity.customer_id == Ticket.customer_id, Identity.value == Ticket.contact
                    )
                )
            )
        )
        == 0
    )
    # The same customer wrote twice from the same address: two tickets, one customer.
    repeat = db.session.execute(
        select(Ticket.customer_id, Ticket.contact)
        .where(Ticket.channel == "email")
        .group_by(Ticket.customer_id, Ticket.contact)
        .having(func.count() >= 2)
        .limit(1)
    ).first()
    assert repeat is not None
    assert (
        scalar(
            select(func.count(distinct(Ticket.customer_id))).where(Ticket.contact == repeat.contact)
        )
        == 1
    )
    # And reached us on two channels (an address and a phone number): still one customer.
    assert db.session.execute(
        select(Ticket.customer_id)
        .where(Ticket.channel.in_(("sms", "voice")))
        .intersect(select(Ticket.customer_id).where(Ticket.channel == "email"))
    ).first()
    # Follow-ups threaded onto their ticket rather than opening new ones.
    assert scalar(select(func.count()).select_from(Ticket).where(Ticket.message_count >= 3)) > 50
    # Every phone ticket has its call, on the caller's record, with a duration.
    voice = select(Ticket.id).where(Ticket.channel == "voice")
    assert (
        scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.id.in_(voice), ~exists().where(Call.ticket_id == Ticket.id))
        )
        == 0
    )
    assert (
        scalar(
            select(func.count())
            .select_from(Call)
            .join(Ticket, Call.ticket_id == Ticket.id)
            .where(Call.customer_id != Ticket.customer_id)
        )
        == 0
    )
    assert scalar(select(func.min(Call.duration)).where(Call.status == "completed")) > 0


def check_three_months_of_reports():
    """The reports of the last 91 days have shapes: busier weekdays than weekends, a
    backlog that rose and fell, ratings with a few low ones (helpdesk/demo/history.py)."""
    from datetime import date as day

    from helpdesk.agents.models import Agent
    from helpdesk.reports import figures
    from helpdesk.reports import scope as scopes

    admin = db.session.execute(select(Agent).where(Agent.role == "admin")).unique().scalar_one()
    today = utcnow().date()
    first = (today - timedelta(days=90)).isoformat()
    report = figures.overview(scopes.build(admin, first, today.isoformat(), "Europe/Berlin"))
    weekdays = [
        d["created"] for d in report["by_day"] if day.fromisoformat(d["date"]).weekday() < 5
    ]
    weekends = [
        d["created"] for d in report["by_day"] if day.fromisoformat(d["date"]).weekday() >= 5
    ]
    # The history's weekdays have 5-10 tickets and its weekends 1-3; the live conversations
    # come on top whatever the weekday (a quarter of them in the last three days), so on a
    # Monday just after midnight a weekend holds a burst of them: 8.8 against 4.6 then.
    assert sum(weekdays) / len(weekdays) > 1.5 * sum(weekends) / len(weekends)
    backlog = [d["backlog"] for d in report["by_day"][:70]]
    assert max(backlog) >= 3 * max(1, min(backlog)), backlog
    assert report["csat"]["responses"] > 50 and 0.5 < report["csat"]["satisfied_share"] < 1
    # A lead's teams: tickets moved between teams (the demo's triage) leave one team's
    # backlog and join the other's when they moved, so no day's backlog is below zero.
    lead = db.session.execute(select(Agent).where(Agent.email == "lead@demo.helpdesk")).scalar_one()
    teams = figures.overview(scopes.build(lead, first, today.isoformat(), "Europe/Berlin"))
    assert min(d["backlog"] for d in teams["by_day"]) >= 0, teams["by_day"]
    db.session.rollback()


def test_demo_seeds_once_matched_by_identity_and_its_login_works(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init", "--demo"])
    assert first.exit_code == 0, first.output
    assert "http://127.0.0.1:5000/login" in first.output
    assert "helpdesk token create" in first.output
    logins = dict(re.findall(r"^\s+(\S+@\S+)\s+password (\S+)\s+admin", first.output, re.M))
    assert list(logins) == ["admin@demo.helpdesk"]
    for role in ("agent", "lead"):
        assert re.search(rf"password \S+\s+{role} \(", first.output), role

    check_variety()
    check_history_is_consistent()
    check_three_months_of_reports()
    check_matched_by_identity(int(re.search(r"(\d+) customers", first.output).group(1)))
    check_crm()

    before = counts()
    again = runner.invoke(args=["init", "--demo"])
    assert again.exit_code == 0 and "not seeded" in again.output
    assert counts() == before

    def login(email: str, password: str):
        form = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        return client.post(
            "/login", data={"email": email, "password": password, "csrf_token": csrf}
        )

    ((email, password),) = logins.items()
    assert login(email, password + "x").status_code == 200  # the form again
    assert client.get("/inbox").status_code == 302
    response = login(email, password)
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    inbox = client.get("/inbox")
    assert inbox.status_code == 200
    newest = scalar(select(Ticket.subject).order_by(Ticket.last_message_at.desc()).limit(1))
    assert str(escape(newest)) in inbox.get_data(as_text=True)

    check_account_manager(first.output, client)


def check_crm() -> None:
    """The CRM has something to show: addresses, custom fields with values, segments that
    find people (VIPs in Berlin among them, with an open ticket), planted duplicates."""
    from helpdesk.agents.models import Agent
    from helpdesk.customers import search
    from helpdesk.duplicates import candidates, finder
    from helpdesk.fields.models import CustomField
    from helpdesk.segments import services as segments
    from helpdesk.segments.models import Segment

    lead = db.session.scalar(select(Agent).where(Agent.email == "lead@demo.helpdesk"))
    assert scalar(select(func.count()).select_from(Customer).where(Customer.city.is_(None))) == 0
    assert {f.applies_to for f in db.session.scalars(select(CustomField))} == {
        "customer",
        "organization",
        "ticket",
    }
    names = {}
    for segment in db.session.scalars(select(Segment)):
        wanted = segments.parse_filter(segment.filter)
        names[segment.name] = search.count(wanted, lead)
    assert set(names) >= {"VIP customers in Berlin", "No contact for 90 days"}
    assert all(n > 0 for n in names.values()), names
    # A draft campaign to the newsletter readers, who agreed to email marketing.
    from helpdesk.campaigns.models import Campaign
    from helpdesk.customers.models import Consent

    draft = db.session.scalar(select(Campaign).where(Campaign.status == "draft"))
    assert draft is not None and draft.segment.name == "Newsletter readers"
    readers = (
        select(func.count())
        .select_from(Consent)
        .where(Consent.purpose == "email_marketing", Consent.granted.is_(True))
    )
    assert 0 < scalar(readers) <= names["Newsletter readers"]
    berlin = search.parse({"q": "Berlin", "tag": "vip", "has_open_tickets": "true"})
    assert search.count(berlin, lead) >= 3
    stored = candidates.find(lead)  # refreshed after the demo's last commit
    assert stored == finder.live(lead)
    reasons = {r for pair in stored for r in pair["reasons"]}
    assert {"same_email", "same_name_in_organization"} <= reasons


def check_account_manager(output: str, client) -> None:
    """The printed account manager logs in and sees only their accounts: some customers,
    organizations and tickets, never anyone else's."""
    from helpdesk.agents import access
    from helpdesk.agents.models import Agent
    from helpdesk.customers.models import Organization
    from tests.fixtures.agents import login, page_csrf

    found = re.search(r"^\s+(anna\.konto@\S+)\s+password (\S+).*own accounts only", output, re.M)
    assert found, output
    anna = (
        db.session.execute(select(Agent).where(Agent.email == found.group(1))).unique().scalar_one()
    )
    assert anna.own_accounts_only
    orgs = scalar(
        select(func.count()).select_from(Organization).where(access.organization_filter(anna))
    )
    customers = scalar(
        select(func.count()).select_from(Customer).where(access.customer_filter(anna))
    )
    assert orgs == 2 and 3 < customers < scalar(select(func.count()).select_from(Customer))
    theirs = list(db.session.scalars(select(Ticket).where(access.ticket_filter(anna))))
    assert theirs and all(access.can_see_customer(anna, t.customer) for t in theirs)
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    web = login(client, found.group(1), found.group(2))
    inbox = web.get("/inbox?view=all").get_data(as_text=True)
    newest = max(theirs, key=lambda t: (t.last_message_at, t.id))
    assert str(escape(newest.subject)) in inbox
    shown = {int(i) for i in re.findall(r'href="/tickets/(\d+)"', inbox)}
    assert shown and shown <= {t.id for t in theirs}
