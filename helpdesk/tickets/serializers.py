"""JSON shapes of tickets, messages, calls and events (API and realtime alike)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpdesk.db import iso
from helpdesk.sla.clocks import state as _sla_state
from helpdesk.tickets.models import Attachment, Call, Message, Ticket, TicketEvent

if TYPE_CHECKING:
    from helpdesk.agents.models import Agent


def person(agent: Agent | None) -> dict[str, Any] | None:
    """The short form of an agent."""
    return {"id": agent.id, "name": agent.name} if agent is not None else None


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    """A ticket with what the inbox needs to render a row without a second request."""
    customer = ticket.customer
    return {
        "id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "channel_id": ticket.channel_id,
        "contact": ticket.contact,
        "customer": {"id": customer.id, "name": customer.name} if customer else None,
        "assignee": person(ticket.assignee),
        "team": {"id": ticket.team.id, "name": ticket.team.name} if ticket.team else None,
        "tags": ticket.tags,
        "custom_fields": dict(ticket.custom_fields or {}),
        "message_count": ticket.message_count,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "last_message_at": iso(ticket.last_message_at),
        "last_inbound_at": iso(ticket.last_inbound_at),
        "first_response_at": iso(ticket.first_response_at),
        "solved_at": iso(ticket.solved_at),
        "sla": sla_state(ticket),
        "csat": ticket.csat,
    }


def sla_state(ticket: Ticket) -> dict[str, Any] | None:
    """The ticket's nearest SLA target and how it stands (tickets/sla.py)."""
    return _sla_state(ticket)


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    """An attachment's metadata (content is fetched separately)."""
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "content_id": attachment.content_id,
        "stored": attachment.sha256 is not None,
        "url": f"/attachments/{attachment.id}",
    }


def message_json(message: Message, with_html: bool = True) -> dict[str, Any]:
    """A message; ``body_html`` is already bleach-cleaned."""
    data = {
        "id": message.id,
        "ticket_id": message.ticket_id,
        "direction": message.direction,
        "internal": message.direction == "note",
        "channel": message.channel,
        "author": {
            "kind": message.author_kind,
            "agent": person(message.author),
            "address": message.sender,
        },
        "subject": message.subject,
        "body_text": message.body_text,
        "status": message.status,
        "error": message.error,
        "is_auto": message.is_auto,
        "needs_review": message.needs_review,
        "review_reason": message.review_reason,
        "created_at": iso(message.created_at),
        "sent_at": iso(message.sent_at),
        "attachments": [attachment_json(a) for a in message.attachments],
        # An email reply's further recipients (only when it had any).
        **{key: message.meta[key] for key in ("cc", "bcc") if (message.meta or {}).get(key)},
    }
    if with_html:
        data["body_html"] = message.body_html
    return data


def call_json(call: Call) -> dict[str, Any]:
    """A phone call."""
    return {
        "id": call.id,
        "provider": call.provider,
        "provider_id": call.provider_id,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "status": call.status,
        "customer_id": call.customer_id,
        "ticket_id": call.ticket_id,
        "agent_id": call.agent_id,
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "duration": call.duration,
        # Never the provider's link: recordings play from the call's ticket, through
        # the access-checked /attachments/ID.
        "recording_url": None,
        "on_hold": bool((call.meta or {}).get("hold")),
    }


def event_json(event: TicketEvent) -> dict[str, Any]:
    """An audit-trail entry."""
    return {
        "id": event.id,
        "ticket_id": event.ticket_id,
        "kind": event.kind,
        "data": event.data,
        "agent": person(event.agent),
        "created_at": iso(event.created_at),
    }
