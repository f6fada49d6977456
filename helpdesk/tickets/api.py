"""REST API v1 for tickets and their messages."""

from __future__ import annotations

from flask import g, jsonify, request
from sqlalchemy import exists, select
from sqlalchemy.orm import undefer

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.board import services as board
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.files import uploads
from helpdesk.inbox import services as inbox
from helpdesk.tickets import replies, services
from helpdesk.tickets.models import (
    CHANNELS,
    PRIORITIES,
    STATUSES,
    Message,
    Ticket,
    TicketEvent,
    TicketTag,
)
from helpdesk.tickets.schemas import (
    BulkReassign,
    EscalateIn,
    MessageIn,
    MessageOut,
    TicketDetail,
    TicketIn,
    TicketOut,
    TicketPatch,
    TicketsOut,
)
from helpdesk.tickets.serializers import event_json, message_json, ticket_json
from helpdesk.web.api import api_blueprint, paginate, parse_body
from helpdesk.web.args import int_arg
from helpdesk.web.openapi import Param, choice, documented, integer, text

bp = api_blueprint("tickets_api", __name__, lock_writes=True)


def _choice(name: str, allowed) -> str | None:
    """A query argument that must be one of ``allowed``."""
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        raise Invalid(f"{name} must be one of {', '.join(allowed)}", fields={name: "bad value"})
    return value


def _ticket(ticket_id: int) -> Ticket:
    """A ticket the calling agent may see, or 404."""
    return access.visible_ticket(g.agent, db.session.get(Ticket, ticket_id))


@bp.get("/tickets")
@documented(
    TicketOut,
    paged=True,
    query=[
        Param("status", choice([*STATUSES, "open_all"]), "open_all: new, open or pending"),
        Param("channel", choice(CHANNELS)),
        Param("priority", choice(PRIORITIES)),
        Param("assignee", {"oneOf": [choice(["me", "none"]), integer()]}, "me, none or an id"),
        Param("team", integer()),
        Param("customer", integer()),
        Param("tag", text(50)),
        Param("q", text(200), "Ticket number, subject, customer, or message text"),
    ],
)
def list_tickets():
    """Tickets the agent may see, filtered, most recently active first."""
    query = services.visible(g.agent)
    status = request.args.get("status")
    if status == "open_all":
        query = query.where(Ticket.status.in_(("new", "open", "pending")))
    elif _choice("status", STATUSES):
        query = query.where(Ticket.status == status)
    if _choice("channel", CHANNELS):
        query = query.where(Ticket.channel == request.args["channel"])
    if _choice("priority", PRIORITIES):
        query = query.where(Ticket.priority == request.args["priority"])
    assignee = request.args.get("assignee")
    if assignee == "me":
        query = query.where(Ticket.assignee_id == g.agent.id)
    elif assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    elif assignee:
        query = query.where(Ticket.assignee_id == int_arg("assignee"))
    if request.args.get("team"):
        query = query.where(Ticket.team_id == int_arg("team"))
    if request.args.get("customer"):
        query = query.where(Ticket.customer_id == int_arg("customer"))
    tag = (request.args.get("tag") or "").strip().lower()
    if len(tag) > 50:
        raise Invalid("tag is too long", fields={"tag": "too long"})
    if tag:
        query = query.where(exists().where(TicketTag.ticket_id == Ticket.id, TicketTag.name == tag))
    q = (request.args.get("q") or "").strip()
    if len(q) > 200:
        raise Invalid("q is too long", fields={"q": "too long"})
    if q:
        query = query.where(inbox.search_condition(q))
    query = query.order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
    return jsonify(paginate(query, ticket_json))


@bp.post("/tickets")
@documented(TicketOut, status=201, body=TicketIn)
def create_ticket():
    """Open a ticket for a customer."""
    body = parse_body(TicketIn)
    ticket = services.open_ticket(body.model_dump(), g.agent)
    unit_of_work.commit()
    return jsonify(ticket_json(ticket)), 201


@bp.get("/tickets/<int:ticket_id>")
@documented(TicketDetail)
def get_ticket(ticket_id: int):
    """One ticket with its audit trail."""
    ticket = _ticket(ticket_id)
    trail = (
        db.session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
        .unique()
        .scalars()
    )
    return jsonify({**ticket_json(ticket), "events": [event_json(e) for e in trail]})


@bp.patch("/tickets/<int:ticket_id>")
@documented(TicketOut, body=TicketPatch)
def update_ticket(ticket_id: int):
    """Change status, priority, assignee, team, tags or subject."""
    ticket = _ticket(ticket_id)
    body = parse_body(TicketPatch)
    services.update_ticket(ticket, body.model_dump(exclude_unset=True), g.agent)
    unit_of_work.commit()
    return jsonify(ticket_json(ticket))


@bp.post("/tickets/bulk")
@documented(TicketsOut, body=BulkReassign)
def bulk_reassign():
    """Reassign many tickets at once (the lead's board): all of them, or none."""
    body = parse_body(BulkReassign)
    tickets = board.reassign(body.ids, body.changes(), g.agent)
    unit_of_work.commit()
    return jsonify({"items": [ticket_json(ticket) for ticket in tickets]})


@bp.get("/tickets/<int:ticket_id>/messages")
@documented(MessageOut, paged=True)
def list_messages(ticket_id: int):
    """The ticket's messages, oldest first."""
    ticket = _ticket(ticket_id)
    query = (
        select(Message)
        .where(Message.ticket_id == ticket.id)
        .options(undefer(Message.body_html))
        .order_by(Message.id)
    )
    return jsonify(paginate(query, message_json))


@bp.post("/tickets/<int:ticket_id>/messages")
@documented(MessageOut, status=201, body=MessageIn, uploads=True)
def post_message(ticket_id: int):
    """Reply on the ticket's channel, or add an internal note (with files: multipart)."""
    ticket = _ticket(ticket_id)
    body = parse_body(MessageIn, uploads=True)
    message = replies.reply(
        ticket,
        body.body,
        g.agent,
        internal=body.internal,
        seen=body.seen,
        channel=body.channel,
        files=uploads.from_request(),
        cc=body.cc,
        bcc=body.bcc,
    )
    unit_of_work.commit()
    db.session.refresh(message)
    return jsonify(message_json(message)), 201


@bp.post("/tickets/<int:ticket_id>/escalate")
@documented(TicketOut, body=EscalateIn)
def escalate(ticket_id: int):
    """Escalate with a reason: higher priority, handed to the team lead."""
    ticket = _ticket(ticket_id)
    services.escalate(ticket, parse_body(EscalateIn).reason, g.agent)
    unit_of_work.commit()
    return jsonify(ticket_json(ticket))
