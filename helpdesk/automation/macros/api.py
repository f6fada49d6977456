"""REST API v1 for macros: list, create, change, remove, and apply one to a ticket."""

from __future__ import annotations

from flask import g, jsonify, request

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.automation.macros import services as macros
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from helpdesk.tickets.schemas import MacroApplied, MacroApplyIn, MacroIn, MacroOut, MacroPatch
from helpdesk.tickets.serializers import message_json, ticket_json
from helpdesk.web.api import api_blueprint, paginate, parse_body
from helpdesk.web.openapi import documented

bp = api_blueprint("macros_api", __name__, lock_writes=True)


@bp.get("/macros")
@documented(MacroOut, paged=True)
def list_macros():
    """The macros the agent may use: their personal ones and their teams'."""
    return jsonify(paginate(macros.visible(g.agent), lambda m: macros.macro_json(m, g.agent)))


@bp.post("/macros")
@documented(MacroOut, status=201, body=MacroIn)
def create_macro():
    """A personal macro, or a team macro (leads of the team and admins)."""
    macro = macros.create(parse_body(MacroIn).model_dump(), g.agent)
    unit_of_work.commit()
    return jsonify(macros.macro_json(macro, g.agent)), 201


@bp.get("/macros/<int:macro_id>")
@documented(MacroOut)
def get_macro(macro_id: int):
    """One macro the agent may use."""
    return jsonify(macros.macro_json(macros.usable(g.agent, macro_id), g.agent))


@bp.patch("/macros/<int:macro_id>")
@documented(MacroOut, body=MacroPatch)
def update_macro(macro_id: int):
    """Change a macro's name, text or actions (its owner, or a lead of its team, or an admin)."""
    changes = parse_body(MacroPatch).model_dump(exclude_unset=True)
    macro = macros.update(macro_id, changes, g.agent)
    unit_of_work.commit()
    return jsonify(macros.macro_json(macro, g.agent))


@bp.delete("/macros/<int:macro_id>")
@documented(None, status=204)
def delete_macro(macro_id: int):
    """Remove a macro (same rule as changing it)."""
    macros.delete(macro_id, g.agent)
    unit_of_work.commit()
    return "", 204


@bp.post("/tickets/<int:ticket_id>/macros/<int:macro_id>/apply")
@documented(MacroApplied, body=MacroApplyIn)
def apply_macro(ticket_id: int, macro_id: int):
    """Render a macro for the ticket and make its changes; with ``send`` also send the text."""
    ticket = access.visible_ticket(g.agent, db.session.get(Ticket, ticket_id))
    macro = macros.usable(g.agent, macro_id)
    body = parse_body(MacroApplyIn) if request.get_data(cache=True) else MacroApplyIn()
    text, message = macros.apply(
        ticket, macro, g.agent, send=body.send, internal=body.internal, seen=body.seen
    )
    unit_of_work.commit()
    if message is not None:
        db.session.refresh(message)
    return jsonify(
        {
            "text": text,
            "ticket": ticket_json(ticket),
            "message": message_json(message) if message is not None else None,
        }
    )
