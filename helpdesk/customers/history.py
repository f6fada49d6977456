"""The customer card and the timeline: everything that happened with one customer.

Both run a fixed number of queries whatever the length of the history. Given
the agent looking (``viewer``), they leave out tickets, messages and calls of
tickets that agent may not open (agents.access); orders and notes are CRM data
every agent who may see the customer sees. The card of a customer the viewer may not
see (an account manager's: not theirs) is the card of an unknown caller; the pages and
the API answer 404 for them before asking for a timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, and_, func, literal, or_, select, true, union_all
from sqlalchemy.orm import lazyload

from helpdesk.agents import access
from helpdesk.customers.models import Customer, Note, Order
from helpdesk.customers.schemas import customer_json, note_json, order_json
from helpdesk.db import iso
from helpdesk.extensions import db
from helpdesk.tickets.models import OPEN_STATUSES, Call, Message, Ticket
from helpdesk.tickets.serializers import call_json, message_json, ticket_json


def _visible(viewer):
    """The SQL condition on Ticket for what ``viewer`` may open; everything without one.
    (Always among one customer's tickets, found by their index.)"""
    if viewer is None:
        return true()
    return access.ticket_filter(viewer, among_few=True)


_EVERY_TEAM = object()


OPEN_ON_CARD, ORDERS_ON_CARD = 10, 5


def _open_ticket_ids(customer_id: int, shown):
    """The ids of the card's open tickets: the newest activity first."""
    return (
        select(Ticket.id)
        .where(Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_STATUSES), shown)
        .order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
        .limit(OPEN_ON_CARD)
    )


def _recent_order_ids(customer_id: int):
    """The ids of the card's recent orders."""
    return (
        select(Order.id)
        .where(Order.customer_id == customer_id)
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(ORDERS_ON_CARD)
    )


def _card_json(customer: Customer, tickets, orders, viewer, query: dict | None) -> dict:
    """The card from loaded rows: every open ticket among ``tickets`` (all of them
    visible) and every order among ``orders`` may be shown; the card takes the first."""
    open_tickets = sorted(
        (t for t in tickets if t.status in OPEN_STATUSES),
        key=lambda t: (t.last_message_at, t.id),
        reverse=True,
    )
    recent = sorted(orders, key=lambda o: (o.ordered_at, o.id), reverse=True)
    return {
        "customer": customer_json(customer),
        "open_tickets": [ticket_json(t) for t in open_tickets[:OPEN_ON_CARD]],
        "recent_orders": [order_json(o) for o in recent[:ORDERS_ON_CARD]],
        "last_contact": last_contact(customer, viewer),
        "query": query or {},
    }


def card(
    customer: Customer | None, query: dict | None = None, viewer=None, line_team=_EVERY_TEAM
) -> dict:
    """The card an agent sees when this customer calls or writes (PRODUCT.md).

    ``line_team``: the card pops up for the agents of that team (None: for every
    agent), so it lists only tickets all of them may open: the team's and those of
    no team.
    """
    if (
        customer is not None
        and viewer is not None
        and not access.can_see_customer(viewer, customer)
    ):
        customer = None  # not theirs: as if the number or address were unknown
    if customer is None:
        return {
            "customer": None,
            "open_tickets": [],
            "recent_orders": [],
            "last_contact": None,
            "query": query or {},
        }
    shown = _visible(viewer)
    if line_team is not _EVERY_TEAM:
        shown = (
            or_(Ticket.team_id.is_(None), Ticket.team_id == line_team)
            if line_team is not None
            else Ticket.team_id.is_(None)
        )
    _, tickets, orders = _load(
        {}, tickets=_open_ticket_ids(customer.id, shown), orders=_recent_order_ids(customer.id)
    )
    return _card_json(customer, tickets, orders, viewer, query)


RATINGS_ON_RECORD = 200  # the newest rated tickets the record's satisfaction averages


def facts(customer: Customer, viewer=None) -> dict:
    """The figures at the head of a customer's record (``/customers/ID``): tickets (all,
    open) the viewer may open, the lifetime order value per currency, and the average
    satisfaction of the newest rated tickets. Three queries, whatever the history."""
    shown = _visible(viewer)
    total, open_count = db.session.execute(
        select(
            func.count(Ticket.id),
            func.count(Ticket.id).filter(Ticket.status.in_(OPEN_STATUSES)),
        ).where(Ticket.customer_id == customer.id, shown)
    ).one()
    value = db.session.execute(
        select(Order.currency, func.sum(Order.total), func.count(Order.id))
        .where(Order.customer_id == customer.id, Order.total.is_not(None))
        .group_by(Order.currency)
        .order_by(func.sum(Order.total).desc())
    ).all()
    rated = db.session.scalars(
        select(Ticket.csat)
        .where(Ticket.customer_id == customer.id, shown, Ticket.csat.is_not(None))
        .order_by(Ticket.id.desc())
        .limit(RATINGS_ON_RECORD)
    ).all()
    ratings = [r["rating"] for r in rated if isinstance(r, dict) and r.get("rating")]
    return {
        "tickets": total,
        "open_tickets": open_count,
        "lifetime_value": [
            {"currency": currency or "", "total": str(amount), "orders": orders}
            for currency, amount, orders in value
        ],
        "satisfaction": (
            {"average": round(sum(ratings) / len(ratings), 1), "ratings": len(ratings)}
            if ratings
            else None
        ),
    }


RECORD_ROWS = 50  # the newest tickets and orders a customer's record lists


def record_lists(customer: Customer, viewer=None) -> tuple[list[Ticket], list[Order]]:
    """The newest tickets the viewer may open and the newest orders, for the record's
    tabs (the inbox, filtered by the customer, and the orders API page further)."""
    tickets = db.session.scalars(
        select(Ticket)
        .where(Ticket.customer_id == customer.id, _visible(viewer))
        .order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
        .limit(RECORD_ROWS)
    ).unique()
    orders = db.session.scalars(
        select(Order)
        .where(Order.customer_id == customer.id)
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(RECORD_ROWS)
    )
    return list(tickets), list(orders)


def key_people(customer: Customer, limit: int = 5, viewer=None) -> list[dict]:
    """The key people of the customer's organization (the customer left out) whom
    ``viewer`` may see, by name: for the card beside a conversation and on the customer's
    page."""
    if customer.organization_id is None:
        return []
    rows = db.session.execute(
        select(Customer.id, Customer.name, Customer.title)
        .where(
            Customer.organization_id == customer.organization_id,
            Customer.key_person.is_(True),
            Customer.id != customer.id,
            access.customer_filter(viewer) if viewer is not None else true(),
        )
        .order_by(func.lower(Customer.name), Customer.id)
        .limit(limit)
    ).all()
    return [{"id": r.id, "name": r.name, "title": r.title} for r in rows]


def _visible_call(viewer):
    """Calls ``viewer`` may see: on no ticket, or on a ticket they may open (Ticket
    outer-joined); an account manager's, of their customers only."""
    if viewer is None:
        return true()
    return and_(access.call_filter(viewer), or_(Call.ticket_id.is_(None), _visible(viewer)))


def last_contact(customer: Customer, viewer=None) -> dict | None:
    """The latest message or call with this customer, either direction (one statement)."""
    message = (
        select(
            literal("message").label("kind"),
            Message.id.label("id"),
            Message.created_at.label("at"),
            Message.channel.label("channel"),
            Message.direction.label("direction"),
            Message.ticket_id.label("ticket_id"),
            literal(None, String).label("status"),
        )
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(Ticket.customer_id == customer.id, Message.direction != "note", _visible(viewer))
        .order_by(Message.created_at.desc())
        .limit(1)
        .subquery()
    )
    call = (
        select(
            literal("call").label("kind"),
            Call.id.label("id"),
            Call.started_at.label("at"),
            literal("voice").label("channel"),
            Call.direction.label("direction"),
            Call.ticket_id.label("ticket_id"),
            Call.status.label("status"),
        )
        .outerjoin(Ticket, Ticket.id == Call.ticket_id)
        .where(Call.customer_id == customer.id, _visible_call(viewer))
        .order_by(Call.started_at.desc())
        .limit(1)
        .subquery()
    )
    both = union_all(select(message), select(call)).subquery()
    latest = db.session.execute(
        select(both).order_by(both.c.at.desc(), both.c.kind.desc()).limit(1)
    ).first()  # a message before a call at the same time
    if latest is None:
        return None
    found = {
        "at": iso(latest.at),
        "channel": latest.channel,
        "direction": latest.direction,
        "ticket_id": latest.ticket_id,
        f"{latest.kind}_id": latest.id,
    }
    if latest.kind == "call":
        found["status"] = latest.status
    return found


def _entries(customer_id: int, viewer=None):
    """One UNION ALL over every kind of interaction: (kind, id, at)."""
    return union_all(
        select(
            literal("ticket").label("kind"), Ticket.id.label("id"), Ticket.created_at.label("at")
        ).where(Ticket.customer_id == customer_id, _visible(viewer)),
        select(literal("message"), Message.id, Message.created_at)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(Ticket.customer_id == customer_id, _visible(viewer)),
        select(literal("call"), Call.id, Call.started_at)
        .outerjoin(Ticket, Ticket.id == Call.ticket_id)
        .where(Call.customer_id == customer_id, _visible_call(viewer)),
        select(literal("order"), Order.id, Order.ordered_at).where(
            Order.customer_id == customer_id
        ),
        select(literal("note"), Note.id, Note.created_at).where(Note.customer_id == customer_id),
    ).subquery()


def _page(customer_id: int, page: int, per_page: int, viewer):
    """One page of ``(kind, id, at)`` rows, newest first; whether there is more; and the
    ids wanted of each kind."""
    entries = _entries(customer_id, viewer)
    rows = db.session.execute(
        select(entries.c.kind, entries.c.id, entries.c.at)
        .order_by(entries.c.at.desc(), entries.c.kind, entries.c.id.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    wanted: dict[str, list[int]] = {}
    for row in rows:
        wanted.setdefault(row.kind, []).append(row.id)
    return rows, more, wanted


def _items(rows, loaded: dict) -> list[dict]:
    """The page's items in the page's order (a row deleted meanwhile is left out)."""
    return [loaded[(row.kind, row.id)] for row in rows if (row.kind, row.id) in loaded]


def timeline(customer: Customer, page: int, per_page: int, viewer=None) -> tuple[list[dict], bool]:
    """One page of the customer's history, newest first; and whether there is more."""
    rows, more, wanted = _page(customer.id, page, per_page, viewer)
    loaded, _, _ = _load(wanted)
    return _items(rows, loaded), more


def panel(customer: Customer, per_page: int, viewer=None) -> tuple[dict, list[dict], bool]:
    """The customer panel: the card (as ``card`` makes it) and the first page of the
    timeline, their tickets loaded in one query and their orders in another."""
    rows, more, wanted = _page(customer.id, 1, per_page, viewer)
    loaded, tickets, orders = _load(
        wanted,
        tickets=_open_ticket_ids(customer.id, _visible(viewer)),
        orders=_recent_order_ids(customer.id),
    )
    return _card_json(customer, tickets, orders, viewer, None), _items(rows, loaded), more


def _ids(column, ids: list[int] | None, more):
    """``column`` is one of ``ids`` or of the ids the select ``more`` picks: one IN over a
    UNION ALL of the two (an OR of two INs cost PostgreSQL a scan of the whole table)."""
    if more is None:
        return column.in_(ids)
    more = select(more.subquery().c.id)
    if not ids:
        return column.in_(more)
    given: Any = select(column).where(column.in_(ids))  # Any: mypy 2.4 crashes inferring
    return column.in_(union_all(given, more))  # union_all's generics here


def _load(wanted: dict[str, list[int]], tickets=None, orders=None):
    """Load each kind's rows in one query and shape them as timeline items (the tickets'
    customer is the one whose timeline it is, loaded already); with ``tickets`` and
    ``orders``, selects of more of their ids to load with them (the card's). Answers the
    items by ``(kind, id)`` and every ticket and order loaded."""
    out: dict[tuple[str, int], dict] = {}
    ticket_rows: Sequence[Ticket] = []
    order_rows: Sequence[Order] = []
    ticket_ids, order_ids = wanted.get("ticket"), wanted.get("order")
    if ticket_ids or tickets is not None:
        ticket_rows = (
            db.session.execute(
                select(Ticket)
                .where(_ids(Ticket.id, ticket_ids, tickets))
                .options(lazyload(Ticket.customer))
            )
            .scalars()
            .all()
        )
        for t in ticket_rows:
            if t.id in (ticket_ids or ()):
                out[("ticket", t.id)] = {
                    "type": "ticket",
                    "at": iso(t.created_at),
                    "ticket": ticket_json(t),
                }
    if wanted.get("message"):
        rows = (
            db.session.execute(
                select(Message, Ticket.subject)
                .join(Ticket, Ticket.id == Message.ticket_id)
                .where(Message.id.in_(wanted["message"]))
            )
            .unique()
            .all()
        )
        for m, subject in rows:
            out[("message", m.id)] = {
                "type": "message",
                "at": iso(m.created_at),
                "ticket": {"id": m.ticket_id, "subject": subject},
                "message": message_json(m, with_html=False),
            }
    if wanted.get("call"):
        for c in db.session.execute(select(Call).where(Call.id.in_(wanted["call"]))).scalars():
            out[("call", c.id)] = {"type": "call", "at": iso(c.started_at), "call": call_json(c)}
    if order_ids or orders is not None:
        order_rows = (
            db.session.execute(select(Order).where(_ids(Order.id, order_ids, orders)))
            .scalars()
            .all()
        )
        for o in order_rows:
            if o.id in (order_ids or ()):
                out[("order", o.id)] = {
                    "type": "order",
                    "at": iso(o.ordered_at),
                    "order": order_json(o),
                }
    if wanted.get("note"):
        for n in (
            db.session.execute(select(Note).where(Note.id.in_(wanted["note"]))).unique().scalars()
        ):
            out[("note", n.id)] = {"type": "note", "at": iso(n.created_at), "note": note_json(n)}
    return out, ticket_rows, order_rows
