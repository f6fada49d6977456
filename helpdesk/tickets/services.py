"""Ticket operations agents perform: open, change, reply, note, escalate.

Each flushes, writes the audit trail and queues its announcements; the caller
commits once (unit_of_work.commit), and only then do events and jobs go out.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import undefer

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.agents.models import Agent, Team
from helpdesk.audit.services import changes as audit_changes
from helpdesk.customers.models import Customer
from helpdesk.customers.services import customer_for
from helpdesk.db import utcnow
from helpdesk.errors import Forbidden, Invalid
from helpdesk.extensions import db
from helpdesk.fields.services import clean_values
from helpdesk.realtime import ticket_rooms
from helpdesk.sla import clocks as sla
from helpdesk.sla import notifications
from helpdesk.tickets import events, replies
from helpdesk.tickets.models import PRIORITIES, Message, Ticket, TicketEvent

log = logging.getLogger(__name__)


def _team(team_id: int | None) -> Team | None:
    """The team with this id, or a 422."""
    if team_id is None:
        return None
    team = db.session.get(Team, team_id)
    if team is None:
        raise Invalid("no such team", fields={"team": "unknown id"})
    return team


def _assignee(
    agent_id: int | None, team: Team | None, actor: Agent, customer: Customer
) -> Agent | None:
    """The agent to assign, who must be active, belong to the ticket's team and may see
    its customer (an account manager: theirs only)."""
    if agent_id is None:
        return None
    agent = db.session.get(Agent, agent_id)
    if agent is None or not agent.active:
        raise Invalid("no such agent", fields={"assignee": "unknown id"})
    if not access.can_see_customer(agent, customer):
        raise Invalid(
            "the agent may not see this customer", fields={"assignee": "not their account"}
        )
    if team is not None and team.id not in agent.team_ids and not agent.is_admin:
        raise Invalid(
            "the agent is not in the ticket's team", fields={"assignee": "not a member of the team"}
        )
    if actor.role == "agent" and agent.id != actor.id and agent_id is not None:
        raise Forbidden("only leads and admins assign tickets to others")
    return agent


def open_ticket(data: dict, actor: Agent) -> Ticket:
    """Open a ticket on a customer's behalf, with its first message when given."""
    customer = customer_for(data)
    if not access.can_see_customer(actor, customer):  # an account manager: theirs only
        raise Invalid("no such customer", fields={"customer": "unknown id"})
    team = _team(data.get("team"))
    if (
        team is not None
        and not actor.is_admin
        and team.id not in actor.team_ids
        and actor.role != "lead"
    ):
        raise Forbidden("you can only open tickets for your own teams")
    assignee = _assignee(data.get("assignee"), team, actor, customer)
    now = utcnow()
    ticket = Ticket(
        subject=data["subject"],
        status=data.get("status", "new"),
        created_at=now,
        priority=data.get("priority", "normal"),
        channel=data.get("channel", "web"),
        customer=customer,
        team=team,
        assignee=assignee,
        last_message_at=now,
        contact=replies.contact_for(customer, data.get("channel", "web")),
        message_count=0,
    )
    if ticket.status in ("solved", "closed"):
        ticket.solved_at = now
    ticket.set_tags(data.get("tags") or [])
    ticket.custom_fields = clean_values("ticket", data.get("custom_fields") or {})
    db.session.add(ticket)
    db.session.flush()
    sla.start(ticket, now)
    if ticket.status not in sla.RUNNING:
        sla.status_changed(ticket, "new", now)
    events.record(ticket, "created", {"channel": ticket.channel, "by": "agent"}, actor)
    if data.get("body"):
        db.session.add(
            Message(
                ticket_id=ticket.id,
                direction="in",
                channel=ticket.channel,
                author_kind="customer",
                body_text=data["body"],
                subject=ticket.subject,
                status="received",
                created_at=now,
                meta={"entered_by": actor.id},
            )
        )
        ticket.message_count = 1
        ticket.last_inbound_at = now
    db.session.flush()
    events.announce_ticket(ticket, created=True)
    return ticket


def update_ticket(ticket: Ticket, changes: dict, actor: Agent) -> Ticket:
    """Change status, priority, subject, tags, team or assignee, auditing each change."""
    before_rooms = ticket_rooms(ticket)
    before = (ticket.status, ticket.priority, ticket.team_id)
    if "team" in changes and changes["team"] != ticket.team_id:
        team = _team(changes["team"])
        # "No team" is another team too: every agent would see the ticket, notes and all.
        if actor.role == "agent" and (team is None or team.id not in actor.team_ids):
            raise Forbidden("only leads and admins move tickets to other teams or to no team")
        events.record(
            ticket, "team", {"from": ticket.team_id, "to": team.id if team else None}, actor
        )
        ticket.team = team
        if (
            ticket.assignee is not None
            and team is not None
            and team.id not in ticket.assignee.team_ids
            and not ticket.assignee.is_admin
        ):
            changes.setdefault("assignee", None)
    if "assignee" in changes and changes["assignee"] != ticket.assignee_id:
        assignee = _assignee(changes["assignee"], ticket.team, actor, ticket.customer)
        events.record(
            ticket,
            "assigned",
            {"from": ticket.assignee_id, "to": assignee.id if assignee else None},
            actor,
        )
        ticket.assignee = assignee
    for field in ("status", "priority", "subject"):
        value = changes.get(field)
        if value is not None and value != getattr(ticket, field):
            events.record(ticket, field, {"from": getattr(ticket, field), "to": value}, actor)
            setattr(ticket, field, value)
            if field == "status":
                # Closing a solved ticket keeps the time it was solved (close_solved counts on it).
                solved = value in ("solved", "closed")
                ticket.solved_at = (ticket.solved_at or utcnow()) if solved else None
    if changes.get("custom_fields") is not None:
        old_values = dict(ticket.custom_fields or {})
        values = clean_values("ticket", changes["custom_fields"], old_values)
        if values != old_values:
            was, now = audit_changes(old_values, values)
            events.record(ticket, "custom_fields", {"from": was, "to": now}, actor)
            ticket.custom_fields = values
    if changes.get("tags") is not None:
        old = ticket.tags
        ticket.set_tags(changes["tags"])
        if ticket.tags != old:
            events.record(ticket, "tags", {"from": old, "to": ticket.tags}, actor)
    if ticket.status != before[0]:
        sla.status_changed(ticket, before[0])
    elif (ticket.priority, ticket.team_id) != before[1:]:
        sla.refresh(ticket)
    db.session.flush()
    events.announce_ticket(ticket, previous_rooms=before_rooms)
    return ticket


def escalate(
    ticket: Ticket, reason: str, actor: Agent | None, sla_breach: dict | None = None
) -> Ticket:
    """Raise the priority one step and hand the ticket on, with a reason: to the team's
    escalation team (its lead when it has one) or else to the team's lead; reopen it;
    notify whoever gets it, live and by email. ``actor`` None: the SLA scan did it."""
    before_rooms = ticket_rooms(ticket)
    old_priority, previous_status = ticket.priority, ticket.status
    ticket.priority = PRIORITIES[min(PRIORITIES.index(ticket.priority) + 1, len(PRIORITIES) - 1)]
    data = {"reason": reason, "priority": {"from": old_priority, "to": ticket.priority}}
    if sla_breach:
        data["sla"] = sla_breach
    team = ticket.team
    if team is not None and team.escalation_team_id and team.escalation_team_id != team.id:
        target = db.session.get(Team, team.escalation_team_id)
        if target is not None:
            data["team"] = {"from": team.id, "to": target.id}
            ticket.team = team = target
    lead = next(iter(notifications.leads(team)), None)
    assignee = lead
    if (
        assignee is None
        and "team" in data
        and ticket.assignee is not None
        and team is not None  # (always, with "team" in data)
        and team.id not in ticket.assignee.team_ids
        and not ticket.assignee.is_admin
    ):
        assignee = None  # the escalation team has no lead: its queue takes the ticket
    elif assignee is None:
        assignee = ticket.assignee
    if (assignee.id if assignee else None) != ticket.assignee_id:
        data["assignee"] = {"from": ticket.assignee_id, "to": assignee.id if assignee else None}
        ticket.assignee = assignee
    if ticket.status in ("new", "pending", "solved"):
        data["status"] = {"from": ticket.status, "to": "open"}
        ticket.status = "open"
        ticket.solved_at = None
    events.record(ticket, "escalated", data, actor)
    if ticket.status != previous_status:
        sla.status_changed(ticket, previous_status)
    else:
        sla.refresh(ticket)
    db.session.flush()
    events.announce_ticket(ticket, previous_rooms=before_rooms)
    notifications.notify(
        [lead] if lead is not None else notifications.leads(ticket.team),
        "escalated",
        ticket,
        f"#{ticket.number} {ticket.subject}: {reason}",
        actor,
    )
    return ticket


def visible(actor: Agent):
    """A select of the tickets ``actor`` may see."""
    return select(Ticket).where(access.ticket_filter(actor))


def close_solved(days: int = 4) -> int:
    """Close tickets solved more than ``days`` ago (they then no longer reopen)."""
    cutoff = utcnow() - timedelta(days=days)
    tickets = (
        db.session.execute(
            select(Ticket).where(Ticket.status == "solved", Ticket.solved_at < cutoff).limit(1000)
        )
        .scalars()
        .all()
    )
    for ticket in tickets:
        events.record(
            ticket, "status", {"from": "solved", "to": "closed", "why": f"solved for {days} days"}
        )
        ticket.status = "closed"
        events.announce_ticket(ticket)
    unit_of_work.commit()
    return len(tickets)


def conversation(
    ticket: Ticket, before: int | None, limit: int
) -> tuple[list[Message], int | None, list[TicketEvent]]:
    """A conversation page: up to ``limit`` messages (before message ``before``, oldest
    first), where the next older page starts (or None), and the newest 200 events."""
    query = (
        select(Message)
        .where(Message.ticket_id == ticket.id)
        .options(undefer(Message.body_html))
        .order_by(Message.id.desc())
        .limit(limit + 1)
    )
    if before:
        query = query.where(Message.id < before)
    newest_first = db.session.execute(query).unique().scalars().all()
    earlier = newest_first[limit].id + 1 if len(newest_first) > limit else None
    trail = (
        db.session.execute(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id.desc())
            .limit(200)
        )
        .unique()
        .scalars()
        .all()
    )
    return list(reversed(newest_first[:limit])), earlier, list(trail)


def messages_after(ticket: Ticket, after: int, limit: int) -> list[Message]:
    """The ticket's messages after message ``after``, oldest first (live updates)."""
    return list(
        db.session.execute(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.id > after)
            .options(undefer(Message.body_html))
            .order_by(Message.id)
            .limit(limit)
        )
        .unique()
        .scalars()
        .all()
    )
