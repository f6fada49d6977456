"""Where notifications come from. The core does not call this module: ``init_app``
hangs ``before_flush`` on the session (``install``), which reads what a flush is about to
write (an ``assigned`` or ``survey`` trail entry, an internal note, a customer's message),
and listens to the SLA's notifications (``helpdesk.sla.notifications.on_notify``). So each
notification is stored in the transaction of the change that causes it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from helpdesk.agents.models import Agent
from helpdesk.notifications import mentions, services
from helpdesk.reports.models import ReportingEvent
from helpdesk.sla import notifications as sla_notifications
from helpdesk.surveys.services import LOW
from helpdesk.tickets.models import Message, Ticket, TicketEvent

EXCERPT = 200


def install() -> None:
    """Store notifications on every flush of every session, and the SLA's (once)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
    sla_notifications.on_notify(from_sla)


def from_sla(
    recipients: list[Agent], kind: str, ticket: Ticket, text: str, actor: Agent | None
) -> None:
    """The SLA's notifications (warnings, escalations, low ratings for leads) for the bell:
    the SLA emits them live itself and emails escalations; the other kinds by choice."""
    for agent in recipients:
        services.add(agent, kind, ticket, text, actor, live=False, email=kind != "escalated")


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Add the notifications of what this flush writes."""
    new = [obj for obj in session.new if isinstance(obj, (TicketEvent, Message))]
    if not new:
        return
    with session.no_autoflush:
        for obj in sorted(new, key=lambda o: 0 if isinstance(o, TicketEvent) else 1):
            if isinstance(obj, TicketEvent):
                _from_trail(session, obj)
            else:
                _from_message(session, obj)


def _agent(session: Session, agent_id: Any) -> Agent | None:
    """The agent with this id (None for none)."""
    return session.get(Agent, agent_id) if isinstance(agent_id, int) else None


def _ticket(session: Session, obj: TicketEvent | Message) -> Ticket | None:
    """The ticket of a trail entry or message, also when only its id was set."""
    return obj.ticket if obj.ticket is not None else session.get(Ticket, obj.ticket_id)


def _from_trail(session: Session, entry: TicketEvent) -> None:
    """An assignment (or a ticket opened for someone) tells the new assignee; a low
    rating the ticket's agent."""
    if entry.kind not in ("assigned", "created", "survey"):
        return
    ticket = _ticket(session, entry)
    if ticket is None:
        return
    data = entry.data or {}
    actor = _agent(session, entry.agent_id)
    if entry.kind == "assigned":
        services.add(_agent(session, data.get("to")), "assigned", ticket, ticket.subject, actor)
        return
    if entry.kind == "created":
        # Opened by an agent for a colleague (ingest's new tickets have nobody yet).
        if ticket.id is not None and ticket.assignee_id is not None:
            assignee = _agent(session, ticket.assignee_id)
            services.add(assignee, "assigned", ticket, ticket.subject, actor)
        return
    rating = data.get("rating")
    if not isinstance(rating, int) or rating > LOW:
        return
    agent = _agent(session, ticket.assignee_id) or _agent(session, _solver(session, ticket))
    comment = data.get("comment") or ""
    if agent is None or (comment and _leads_told(agent, ticket)):
        return  # with a comment the team's leads hear of it from surveys (from_sla)
    services.add(agent, "low_rating", ticket, f"{rating}/5 {comment}".strip())


def _leads_told(agent: Agent, ticket: Ticket) -> bool:
    """Whether ``agent`` is among the leads a commented low rating is sent to."""
    return any(a.id == agent.id for a in sla_notifications.leads(ticket.team))


def _solver(session: Session, ticket: Ticket) -> int | None:
    """Who solved the ticket last (the rating is theirs when nobody is assigned)."""
    return session.execute(
        select(ReportingEvent.agent_id)
        .where(ReportingEvent.ticket_id == ticket.id, ReportingEvent.kind == "solved")
        .order_by(ReportingEvent.id.desc())
        .limit(1)
    ).scalar()


def _from_message(session: Session, message: Message) -> None:
    """A note tells those it mentions; a customer's message on a ticket the assignee."""
    if message.direction == "note" and message.author_kind == "agent":
        ticket = _ticket(session, message)
        if ticket is None:
            return
        author = _agent(session, message.author_id)
        excerpt = message.body_text[:EXCERPT]
        for agent in mentions.mentioned(message.body_text or ""):
            services.add(agent, "mention", ticket, excerpt, author)
    elif message.direction == "in" and message.author_kind == "customer":
        ticket = _ticket(session, message)
        # A new ticket has nobody assigned yet (assignment follows the commit).
        if ticket is None or inspect(ticket).pending or ticket.assignee_id is None:
            return
        services.add(
            _agent(session, ticket.assignee_id), "replied", ticket, message.body_text[:EXCERPT]
        )
