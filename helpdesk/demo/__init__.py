"""Demo data for `helpdesk init --demo`: a live-looking helpdesk on the first screen.

Teams, agents of every role, organizations with key people, customers from
Germany and abroad, orders in every status, and conversations on every channel
over the last 60 days. Customers' messages and calls go through the real
ingest (matching, threading, the filing of calls); agents' answers are
history, stored as sent. Deterministic: the same seed gives the same data."""

from __future__ import annotations

import random
from typing import Any, cast

from sqlalchemy import func, select, update

from helpdesk import unit_of_work
from helpdesk.agents.models import Agent, Team
from helpdesk.customers.models import Customer, Order, Organization
from helpdesk.db import utcnow
from helpdesk.demo.content import ACCOUNT_MANAGER, CHANNELS, LOGINS
from helpdesk.demo.conversations import Player
from helpdesk.demo.crm import make_crm
from helpdesk.demo.history import play_history
from helpdesk.demo.people import make_channel, make_orders, make_people, make_plan, make_staff
from helpdesk.extensions import db
from helpdesk.tickets.models import Call, Message, Ticket


def seed(conversations: int = 180, customer_count: int = 300) -> list[str]:
    """Fill an empty database; return the lines `helpdesk init --demo` prints."""
    rng = random.Random(42)
    now = utcnow()
    staff = make_staff(now)
    lines = {kind: make_channel(kind, staff, now) for kind in CHANNELS}
    people = make_people(rng, now, customer_count)
    make_orders(rng, people, now)
    db.session.commit()
    # Three months of the past first (ticket numbers grow with time), for the reports.
    play_history(random.Random(17), now, staff, people)
    plans = [make_plan(rng, people, now) for _ in range(conversations)]
    # In time order, as they happened: ticket numbers grow with time.
    player = Player(rng, now, staff, lines)
    for plan in sorted(plans, key=lambda p: p.at):
        player.play(plan)
    _settle()
    db.session.commit()
    _service_levels()
    _account_manager()
    make_crm(random.Random(7), now)
    unit_of_work.commit()  # and what waits for it: the stored duplicate pairs' refresh
    return _summary()


def _account_manager() -> None:
    """Anna Konto, who sees only her own accounts: the two organizations with the most
    tickets and three private customers who wrote in."""
    from helpdesk.agents import services as agents

    email, name, role, teams, password = ACCOUNT_MANAGER
    anna, _ = agents.create_agent(email, name, role, list(teams), password, own_accounts_only=True)
    busiest = (
        select(Customer.organization_id)
        .join(Ticket, Ticket.customer_id == Customer.id)
        .where(Customer.organization_id.is_not(None))
        .group_by(Customer.organization_id)
        .order_by(func.count().desc(), Customer.organization_id)
        .limit(2)
    )
    db.session.execute(
        update(Organization)
        .where(Organization.id.in_(busiest))
        .values(account_manager_id=anna.id)
        .execution_options(synchronize_session=False)
    )
    private = (
        select(Customer.id)
        .where(
            Customer.organization_id.is_(None),
            select(Ticket.id).where(Ticket.customer_id == Customer.id).exists(),
        )
        .order_by(Customer.id)
        .limit(3)
    )
    db.session.execute(
        update(Customer)
        .where(Customer.id.in_(private))
        .values(account_manager_id=anna.id)
        .execution_options(synchronize_session=False)
    )


OFFICE_HOURS = {
    "timezone": "Europe/Berlin",
    "hours": {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-24", "2026-12-25", "2026-12-26", "2026-12-31", "2027-01-01"],
}
SLA_POLICIES = [  # name, priority, first response, next response, resolution (business minutes)
    ("Standard", None, 240, 480, 3 * 600),
    ("High priority", "high", 60, 240, 600),
    ("Urgent", "urgent", 30, 60, 300),
]


def _service_levels() -> None:
    """Office hours for every team and three SLA policies; committing runs the queued
    re-computation of the open tickets' due times (in this process); then the SLA scan
    escalates the tickets whose due time has passed, as the scheduler would."""
    from helpdesk import unit_of_work
    from helpdesk.sla import policies as sla_policies
    from helpdesk.sla import scan as sla_scan

    for team in db.session.execute(select(Team)).scalars():
        sla_policies.set_calendar(team, OFFICE_HOURS)
    for name, priority, first, following, resolution in SLA_POLICIES:
        sla_policies.create(
            {
                "name": name,
                "priority": priority,
                "first_response_minutes": first,
                "next_response_minutes": following,
                "resolution_minutes": resolution,
            },
            None,
        )
    unit_of_work.commit()
    sla_scan.scan()


def _settle() -> None:
    """Customers' last contact from their tickets (conversations overlap in time)."""
    last = (
        select(func.max(Ticket.last_inbound_at))
        .where(Ticket.customer_id == Customer.id)
        .scalar_subquery()
    )
    db.session.execute(
        update(Customer)
        .values(last_contact_at=last, updated_at=func.coalesce(last, Customer.created_at))
        .execution_options(synchronize_session=False)
    )


def _summary() -> list[str]:
    """What was made, and how to log in."""

    def count(model: type[Any]) -> int:
        # A COUNT answers one row: never None.
        return cast(int, db.session.scalar(select(func.count()).select_from(model)))

    channels = dict(
        db.session.execute(select(Ticket.channel, func.count()).group_by(Ticket.channel)).all()
    )
    lines = [
        f"demo data: {count(Team)} teams, {count(Agent)} agents, "
        f"{count(Organization)} organizations, {count(Customer)} customers, "
        f"{count(Order)} orders, {count(Ticket)} tickets ("
        + ", ".join(f"{channels.get(c, 0)} {c}" for c in ("email", "sms", "voice", "chat", "web"))
        + f"), {count(Message)} messages, {count(Call)} calls",
        "log in at /login on the address `helpdesk serve` prints (make run: "
        "http://127.0.0.1:5000/login unless PORT or HOST are given) as",
    ]
    lines += [
        f"  {email:<22} password {password:<13} {role} ({', '.join(teams)})"
        for email, _, role, teams, password in LOGINS
    ]
    email, _, role, teams, password = ACCOUNT_MANAGER
    lines.append(
        f"  {email:<22} password {password:<13} {role} ({', '.join(teams)}), "
        "own accounts only: two organizations and three customers"
    )
    lines.append(
        "API token for scripts: helpdesk token create EMAIL "
        "(from a checkout: .venv/bin/helpdesk token create admin@demo.helpdesk)"
    )
    return lines
