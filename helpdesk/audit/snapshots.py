"""What the audit log keeps of a customer: the CRM fields (for merges), and what an
erasure or a merge touches as counts (never the personal data of an erased person)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from helpdesk.customers.models import Customer, Identity, Note, Order
from helpdesk.extensions import db
from helpdesk.tickets.models import Call, Message, Ticket

# The kinds of rows a customer owns, in the order a person reads them.
COUNTED = ("tickets", "messages", "calls", "orders", "notes", "identities")


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    """The customer's CRM fields as plain JSON values."""
    return {
        "name": customer.name,
        "title": customer.title,
        "organization": customer.organization_id,
        "language": customer.language,
        "preferred_channel": customer.preferred_channel,
        "emails": customer.values("email"),
        "phones": customer.values("phone"),
        "tags": list(customer.tags or []),
        "custom_fields": dict(customer.custom_fields or {}),
        "account_manager": customer.account_manager_id,
        "address": {
            "street": customer.street,
            "postcode": customer.postcode,
            "city": customer.city,
            "country": customer.country,
        },
    }


def owned_counts(customer_id: int) -> dict[str, int]:
    """How many tickets, messages, calls, orders, notes and identities the customer has,
    in one statement (each count by an index on ``customer_id``)."""

    def count(model, *where):
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    row = db.session.execute(
        select(
            count(Ticket, Ticket.customer_id == customer_id).label("tickets"),
            select(func.count())
            .select_from(Message)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Ticket.customer_id == customer_id)
            .scalar_subquery()
            .label("messages"),
            count(Call, Call.customer_id == customer_id).label("calls"),
            count(Order, Order.customer_id == customer_id).label("orders"),
            count(Note, Note.customer_id == customer_id).label("notes"),
            count(Identity, Identity.customer_id == customer_id).label("identities"),
        )
    ).one()
    return {name: int(getattr(row, name)) for name in COUNTED}
