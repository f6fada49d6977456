"""The audit trail and the realtime announcements of ticket changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from helpdesk import realtime
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket, TicketEvent
from helpdesk.tickets.serializers import message_json, ticket_json


class Actor(Protocol):
    """Who changed something: an Agent, or anything else that carries an agent's id."""

    @property
    def id(self) -> int: ...


def record(
    ticket: Ticket, kind: str, data: dict[str, Any] | None = None, agent: Actor | None = None
) -> TicketEvent:
    """Write who changed what on ``ticket``."""
    event = TicketEvent(
        ticket=ticket, kind=kind, data=data or {}, agent_id=agent.id if agent is not None else None
    )
    db.session.add(event)
    return event


def announce_ticket(
    ticket: Ticket,
    created: bool = False,
    previous_rooms: Iterable[str] = (),
    payload: dict[str, Any] | None = None,
) -> None:
    """Tell the agents who may see ``ticket`` that it was created or changed, after commit."""
    db.session.flush()
    name = "ticket.created" if created else "ticket.updated"
    realtime.emit_after_commit(
        name,
        {"ticket": payload or ticket_json(ticket)},
        realtime.ticket_rooms(ticket, previous_rooms),
    )


def announce_message(message: Message, ticket: Ticket, created_ticket: bool = False) -> None:
    """Announce a new message (and its ticket) to the agents who may see it, after commit."""
    db.session.flush()  # so the payload shows what the database holds (updated_at, ids)
    shown = ticket_json(ticket)
    announce_ticket(ticket, created=created_ticket, payload=shown)
    payload = {"message": message_json(message), "ticket": shown}
    realtime.emit_after_commit("message.created", payload, realtime.ticket_rooms(ticket))


def announce_message_status(message: Message, ticket: Ticket) -> None:
    """Tell agents a message's delivery status changed (sent, delivered, failed)."""
    payload = {"message": message_json(message, with_html=False), "ticket": ticket_json(ticket)}
    realtime.emit_after_commit("message.updated", payload, realtime.ticket_rooms(ticket))
