"""REST API v1 for tickets and their messages."""
from __future__ import annotations

from flask import g, jsonify, request
from sqlalchemy import exists, select
from sqlalchemy.orm import undefer

from .. import unit_of_work
from ..agents import access
from ..api import api_blueprint, int_arg, paginate, parse_body
from ..errors import Invalid
from ..extensions import db
from . import board, inbox, macros, services
from .models import CHANNELS, PRIORITIES, STATUSES, Message, Ticket, TicketEvent, TicketTag
from .schemas import (BulkReassign, EscalateIn, MacroApplyIn, MacroIn, MacroPatch, MessageIn,
                      TicketIn, TicketPatch)
from .serializers import event_json, message_json, ticket_json

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
        query = query.where(exists().where(TicketTag.ticket_id == Ticket.id,
                                           TicketTag.name == tag))
    q = (request.args.get("q") or "").strip()
    if len(q) > 200:
        raise Invalid("q is too long", fields={"q": "too long"})
    if q:
        query = query.where(inbox.search_condition(q))
    query = query.order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
    return jsonify(paginate(query, ticket_json))


@bp.post("/tickets")
def create_ticket():
    """Open a ticket for a customer."""
    body = parse_body(TicketIn)
    ticket = services.open_ticket(body.model_dump(), g.agent)
    unit_of_work.commit()
    return jsonify(ticket_json(ticket)), 201


@bp.get("/tickets/<int:ticket_id>")
def get_ticket(ticket_id: int):
    """One ticket with its audit trail."""
    ticket = _ticket(ticket_id)
    trail = db.session.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                               .order_by(TicketEvent.id)).unique().scalars()
    return jsonify({**ticket_json(ticket), "events": [event_json(e) for e in trail]})


@bp.patch("/tickets/<int:ticket_id>")
def update_ticket(ticket_id: int):
    """Change status, priority, assignee, team, tags or subject."""
    ticket = _ticket(ticket_id)
    body = parse_body(TicketPatch)
    services.update_ticket(ticket, body.model_dump(exclude_unset=True), g.agent)
    unit_of_work.commit()
    return jsonify(ticket_json(ticket))


@bp.post("/tickets/bulk")
def bulk_reassign():
    """Reassign many tickets at once (the lead's board): all of them, or none."""
    body = parse_body(BulkReassign)
    tickets = board.reassign(body.ids, body.changes(), g.agent)
    unit_of_work.commit()
    return jsonify({"items": [ticket_json(ticket) for ticket in tickets]})


@bp.get("/tickets/<int:ticket_id>/messages")
def list_messages(ticket_id: int):
    """The ticket's messages, oldest first."""
    ticket = _ticket(ticket_id)
    query = (select(Message).where(Message.ticket_id == ticket.id)
             .options(undefer(Message.body_html)).order_by(Message.id))
    return jsonify(paginate(query, message_json))


@bp.post("/tickets/<int:ticket_id>/messages")
def post_message(ticket_id: int):
    """Reply on the ticket's channel, or add an internal note."""
    ticket = _ticket(ticket_id)
    body = parse_body(MessageIn)
    message = services.reply(ticket, body.body, g.agent, internal=body.internal,
                             seen=body.seen, channel=body.channel)
    unit_of_work.commit()
    db.session.refresh(message)
    return jsonify(message_json(message)), 201


@bp.post("/tickets/<int:ticket_id>/escalate")
def escalate(ticket_id: int):
    """Escalate with a reason: higher priority, handed to the team lead."""
    ticket = _ticket(ticket_id)
    services.escalate(ticket, parse_body(EscalateIn).reason, g.agent)
    unit_of_work.commit()
    return jsonify(ticket_json(ticket))


# --- macros (canned replies; helpdesk/tickets/macros.py) -----------------------------

@bp.get("/macros")
def list_macros():
    """The macros the agent may use: their personal ones and their teams'."""
    return jsonify(paginate(macros.visible(g.agent), lambda m: macros.macro_json(m, g.agent)))


@bp.post("/macros")
def create_macro():
    """A personal macro, or a team macro (leads of the team and admins)."""
    macro = macros.create(parse_body(MacroIn).model_dump(), g.agent)
    unit_of_work.commit()
    return jsonify(macros.macro_json(macro, g.agent)), 201


@bp.get("/macros/<int:macro_id>")
def get_macro(macro_id: int):
    """One macro the agent may use."""
    return jsonify(macros.macro_json(macros.usable(g.agent, macro_id), g.agent))


@bp.patch("/macros/<int:macro_id>")
def update_macro(macro_id: int):
    """Change a macro's name, text or actions (its owner, or a lead of its team, or an admin)."""
    changes = parse_body(MacroPatch).model_dump(exclude_unset=True)
    macro = macros.update(macro_id, changes, g.agent)
    unit_of_work.commit()
    return jsonify(macros.macro_json(macro, g.agent))


@bp.delete("/macros/<int:macro_id>")
def delete_macro(macro_id: int):
    """Remove a macro (same rule as changing it)."""
    macros.delete(macro_id, g.agent)
    unit_of_work.commit()
    return "", 204


@bp.post("/tickets/<int:ticket_id>/macros/<int:macro_id>/apply")
def apply_macro(ticket_id: int, macro_id: int):
    """Render a macro for the ticket and make its changes; with ``send`` also send the text."""
    ticket = _ticket(ticket_id)
    macro = macros.usable(g.agent, macro_id)
    body = parse_body(MacroApplyIn) if request.get_data(cache=True) else MacroApplyIn()
    text, message = macros.apply(ticket, macro, g.agent, send=body.send,
                                 internal=body.internal, seen=body.seen)
    unit_of_work.commit()
    if message is not None:
        db.session.refresh(message)
    return jsonify({"text": text, "ticket": ticket_json(ticket),
                    "message": message_json(message) if message is not None else None})
