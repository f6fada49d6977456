"""Export everything held about one customer (``GET /api/v1/customers/ID/export``),
as far as the agent asking may see it."""

from __future__ import annotations

from sqlalchemy import or_, select

from helpdesk.agents.access import ticket_filter
from helpdesk.agents.models import Agent
from helpdesk.customers.models import Customer, Note, Order
from helpdesk.customers.schemas import customer_json, note_json, order_json
from helpdesk.db import iso
from helpdesk.extensions import db
from helpdesk.tickets.models import Call, Message, Ticket, TicketEvent
from helpdesk.tickets.serializers import call_json, event_json, message_json, ticket_json


def export(customer: Customer, viewer: Agent) -> dict:
    """Everything held about a person that ``viewer`` may see: for an admin everything (a
    data-subject access request), for a lead the tickets, messages (internal notes too),
    their audit trail and calls of the tickets they may open (agents.access), and the CRM
    data every agent sees."""
    shown = ticket_filter(viewer, among_few=True)
    tickets = (
        db.session.execute(
            select(Ticket).where(Ticket.customer_id == customer.id, shown).order_by(Ticket.id)
        )
        .unique()
        .scalars()
        .all()
    )
    ticket_ids = [t.id for t in tickets]
    messages = (
        db.session.execute(
            select(Message).where(Message.ticket_id.in_(ticket_ids)).order_by(Message.id)
        )
        .unique()
        .scalars()
        .all()
    )
    ticket_events = (
        db.session.execute(
            select(TicketEvent)
            .where(TicketEvent.ticket_id.in_(ticket_ids))
            .order_by(TicketEvent.id)
        )
        .unique()
        .scalars()
        .all()
    )
    by_ticket: dict[int, list] = {}
    for m in messages:
        by_ticket.setdefault(m.ticket_id, []).append(message_json(m))
    events_by: dict[int, list] = {}
    for e in ticket_events:
        events_by.setdefault(e.ticket_id, []).append(event_json(e))
    calls = (
        db.session.execute(
            select(Call)
            .outerjoin(Ticket, Ticket.id == Call.ticket_id)
            .where(Call.customer_id == customer.id, or_(Call.ticket_id.is_(None), shown))
            .order_by(Call.id)
        )
        .scalars()
        .all()
    )
    orders = (
        db.session.execute(select(Order).where(Order.customer_id == customer.id).order_by(Order.id))
        .scalars()
        .all()
    )
    notes = (
        db.session.execute(select(Note).where(Note.customer_id == customer.id).order_by(Note.id))
        .unique()
        .scalars()
        .all()
    )
    return {
        "customer": customer_json(customer),
        "identities": [
            {"kind": i.kind, "value": i.value, "created_at": iso(i.created_at)}
            for i in customer.identities
        ],
        "tickets": [
            {
                **ticket_json(t),
                "messages": by_ticket.get(t.id, []),
                "events": events_by.get(t.id, []),
            }
            for t in tickets
        ],
        "calls": [call_json(c) for c in calls],
        "orders": [order_json(o) for o in orders],
        "notes": [note_json(n) for n in notes],
    }
