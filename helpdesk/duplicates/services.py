"""Duplicates as agents work them: a page of pairs with both customers side by side,
"not a duplicate", and the customers an agent may merge (flush only; the caller commits)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from helpdesk.agents import access
from helpdesk.audit import services as audit
from helpdesk.audit import snapshots
from helpdesk.customers.models import Customer, Identity, Note, Order
from helpdesk.duplicates.models import DuplicateDismissal
from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.tickets.models import Call, Message, Ticket


def visible_customer(agent, customer_id: int) -> Customer:
    """The customer if ``agent`` may see it; otherwise NotFound."""
    customer = db.session.execute(
        select(Customer).where(Customer.id == customer_id, access.customer_filter(agent))
    ).scalar_one_or_none()
    if customer is None:
        raise NotFound("no such customer")
    return customer


def dismiss(agent, a: int, b: int) -> DuplicateDismissal:
    """Mark the pair as not one person, so the finder does not offer it again."""
    if a == b:
        raise Invalid("a pair needs two customers", fields={"b": "same id"})
    low, high = sorted((a, b))
    visible_customer(agent, low)
    visible_customer(agent, high)
    existing = db.session.execute(
        select(DuplicateDismissal).where(
            DuplicateDismissal.customer_a_id == low, DuplicateDismissal.customer_b_id == high
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    row = DuplicateDismissal(customer_a_id=low, customer_b_id=high, agent_id=agent.id)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:  # dismissed by someone else meanwhile: the same outcome
        return db.session.execute(
            select(DuplicateDismissal).where(
                DuplicateDismissal.customer_a_id == low, DuplicateDismissal.customer_b_id == high
            )
        ).scalar_one()
    audit.record(
        "duplicate.dismiss",
        object_type="customer",
        object_id=low,
        customer_id=low,
        after={"a": low, "b": high},
    )
    return row


def _grouped(query) -> dict[int, int]:
    return {row[0]: int(row[1]) for row in db.session.execute(query)}


def counts_for(ids: list[int]) -> dict[int, dict[str, int]]:
    """What each customer owns (tickets, messages, calls, orders, notes, identities): one
    grouped query per kind, for any number of customers."""
    if not ids:
        return {}
    queries = {
        "tickets": select(Ticket.customer_id, func.count()).where(Ticket.customer_id.in_(ids)),
        "messages": select(Ticket.customer_id, func.count())
        .select_from(Message)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(Ticket.customer_id.in_(ids)),
        "calls": select(Call.customer_id, func.count()).where(Call.customer_id.in_(ids)),
        "orders": select(Order.customer_id, func.count()).where(Order.customer_id.in_(ids)),
        "notes": select(Note.customer_id, func.count()).where(Note.customer_id.in_(ids)),
        "identities": select(Identity.customer_id, func.count()).where(
            Identity.customer_id.in_(ids)
        ),
    }
    found = {kind: _grouped(q.group_by(q.selected_columns[0])) for kind, q in queries.items()}
    return {i: {kind: found[kind].get(i, 0) for kind in snapshots.COUNTED} for i in ids}


def page_of_pairs(pairs: list[dict]) -> list[dict[str, Any]]:
    """The pairs with both customers loaded (identities and organization eagerly) and
    what each owns, in a fixed number of queries."""
    ids = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
    customers = {
        c.id: c
        for c in db.session.execute(select(Customer).where(Customer.id.in_(ids))).unique().scalars()
    }
    counts = counts_for(ids)
    return [
        {
            **pair,
            "left": customers[pair["a"]],
            "right": customers[pair["b"]],
            "left_counts": counts[pair["a"]],
            "right_counts": counts[pair["b"]],
        }
        for pair in pairs
        if pair["a"] in customers and pair["b"] in customers
    ]


def visible_other(agent, customer_id: int) -> Customer:
    """The customer to merge from, if ``agent`` may see it; otherwise a 422 naming
    ``from`` (as the merge answers an unknown one)."""
    try:
        return visible_customer(agent, customer_id)
    except NotFound:
        raise Invalid("no such customer to merge from", fields={"from": "unknown id"}) from None
