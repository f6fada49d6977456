"""The agent UI pages: inbox, conversation, customer (server-rendered, login required)."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from .agents import access
from .customers import history
from .customers.models import Customer
from .extensions import db
from .tickets import services as tickets
from .tickets.models import Message, Ticket, TicketEvent

bp = Blueprint("web", __name__)
PAGE = 50
VIEWS = {
    "mine": lambda q, me: q.where(Ticket.assignee_id == me.id),
    "unassigned": lambda q, me: q.where(Ticket.assignee_id.is_(None)),
    "all": lambda q, me: q,
}


@bp.before_request
@login_required
def _login_required():
    """Every page of this blueprint needs a logged-in agent."""


@bp.get("/")
def home():
    """The inbox is the start page."""
    return redirect(url_for(".inbox"))


@bp.get("/inbox")
def inbox():
    """Open tickets the agent may see, most recently active first."""
    view = request.args.get("view", "all")
    if view not in VIEWS:
        abort(404)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    query = VIEWS[view](tickets.visible(current_user), current_user).where(
        Ticket.status.in_(("new", "open", "pending")))
    rows = db.session.execute(query.order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
                              .limit(PAGE + 1).offset((page - 1) * PAGE)).unique().scalars().all()
    return render_template("inbox.html", tickets=rows[:PAGE], view=view, page=page,
                           has_next=len(rows) > PAGE)


@bp.get("/tickets/<int:ticket_id>")
def ticket(ticket_id: int):
    """A conversation with the customer's card beside it."""
    item = db.session.get(Ticket, ticket_id)
    if item is None or not access.can_see_ticket(current_user, item):
        abort(404)
    messages = db.session.execute(select(Message).where(Message.ticket_id == item.id)
                                  .order_by(Message.id).limit(500)).unique().scalars().all()
    trail = db.session.execute(select(TicketEvent).where(TicketEvent.ticket_id == item.id)
                               .order_by(TicketEvent.id)).unique().scalars().all()
    return render_template("ticket.html", ticket=item, messages=messages, events=trail,
                           card=history.card(item.customer))


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int):
    """A customer's card and whole history."""
    item = db.session.get(Customer, customer_id)
    if item is None:
        abort(404)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    entries, more = history.timeline(item, page, PAGE)
    return render_template("customer.html", customer=item, card=history.card(item),
                           entries=entries, page=page, has_next=more)
