"""SLAs: due times for first response, next response and resolution, and their clocks.

A ticket takes the most specific ``SlaPolicy`` that matches it (organization, then
channel, then priority; see ``policy_for``) and counts its targets in business
minutes of its team's calendar (``business_hours``):

- first response: from the ticket's creation until an agent's first reply;
- next response: from a customer's first message after an agent's reply until the
  next agent reply;
- resolution: from creation until the ticket is solved.

While a ticket waits on the customer (pending) or is solved, the clocks stop; when
it opens again the clocks' starts move on by the business time it waited. The due
times are stored on the ticket: ``sla_due`` is the earliest running one and
``sla_target`` names it, so the inbox, the board and the scan read one indexed
column.

This module is pure clock arithmetic on models and business hours; ``sla.scan`` warns
and escalates.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents.models import Team
from helpdesk.db import iso, utcnow
from helpdesk.extensions import db
from helpdesk.sla.business_hours import ALWAYS, Calendar
from helpdesk.sla.models import SlaPolicy
from helpdesk.tickets.models import Ticket

log = logging.getLogger(__name__)
TARGETS = ("first_response", "next_response", "resolution")
RUNNING = ("new", "open")  # statuses whose clocks run
PAUSED = ("pending", "solved")  # statuses that stop the clocks
LABELS = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


# ----- which policy, which calendar ------------------------------------------------------


class PolicyTerms(NamedTuple):
    """A policy's values, read once for a whole scan (``SlaPolicy``'s attribute names)."""

    id: int
    name: str
    priority: str | None
    channel: str | None
    organization_id: int | None
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None


# The policies of the running scan: its escalations pick among them without a query.
loaded_policies: ContextVar[list[PolicyTerms] | None] = ContextVar("sla_policies", default=None)


def policy_for(
    ticket: Ticket, policies: Sequence[SlaPolicy | PolicyTerms] | None = None
) -> SlaPolicy | PolicyTerms | None:
    """The most specific policy matching the ticket's organization, channel and priority,
    among ``policies`` (the running scan's, else every policy: a handful of rows)."""
    customer = ticket.customer
    organization_id = customer.organization_id if customer is not None else None
    if policies is None:
        policies = loaded_policies.get()
    if policies is None:
        policies = db.session.execute(select(SlaPolicy)).scalars().all()
    matching = [
        p
        for p in policies
        if p.priority in (None, ticket.priority)
        and p.channel in (None, ticket.channel)
        and p.organization_id in (None, organization_id)
    ]
    return min(matching, key=_specificity, default=None)


def _specificity(policy: SlaPolicy | PolicyTerms) -> tuple[bool, bool, bool, int]:
    """Sort key: organization, then channel, then priority policies first; then oldest."""
    return (
        policy.organization_id is None,
        policy.channel is None,
        policy.priority is None,
        policy.id,
    )


def calendar_for(ticket: Ticket) -> Calendar:
    """The business hours of the ticket's team (around the clock without a team)."""
    if ticket.team_id is None:
        return ALWAYS
    team = ticket.team if ticket.team is not None else db.session.get(Team, ticket.team_id)
    return Calendar.of(team.calendar if team is not None else None)


# ----- keeping the due times -------------------------------------------------------------


def start(ticket: Ticket, now: datetime | None = None) -> None:
    """Start the clocks of a new ticket; flushes nothing."""
    ticket.sla_started_at = ticket.created_at or now or utcnow()
    refresh(ticket)


def refresh(ticket: Ticket, policies: Sequence[SlaPolicy | PolicyTerms] | None = None) -> None:
    """Apply the matching policy and compute the due times from the clocks' starts."""
    policy = policy_for(ticket, policies)
    ticket.sla_policy_id = policy.id if policy is not None else None
    if policy is None:
        ticket.first_response_due = ticket.next_response_due = ticket.resolution_due = None
    else:
        calendar = calendar_for(ticket)
        started = ticket.sla_started_at or ticket.created_at

        def due(since: datetime | None, minutes: int | None) -> datetime | None:
            return calendar.add(since, minutes) if since and minutes is not None else None

        ticket.first_response_due = due(started, policy.first_response_minutes)
        ticket.resolution_due = due(started, policy.resolution_minutes)
        ticket.next_response_due = due(ticket.next_response_from, policy.next_response_minutes)
    running: list[tuple[datetime, str]] = []
    if ticket.status in RUNNING:
        if ticket.first_response_at is None and ticket.first_response_due:
            running.append((ticket.first_response_due, "first_response"))
        if ticket.next_response_due:
            running.append((ticket.next_response_due, "next_response"))
        if ticket.resolution_due:
            running.append((ticket.resolution_due, "resolution"))
    if not running:
        # Paused or nothing measured: the scan skips it; target and stage are kept, so a
        # breach escalated before a pause is not escalated again after it.
        ticket.sla_due = None
        return
    due_at, target = min(running)
    if target != ticket.sla_target and due_at > utcnow():
        # A new target still ahead starts afresh; one already past when it became the
        # nearest (the escalation's higher priority tightened it) belongs to the breach
        # just handled and is not escalated again.
        ticket.sla_stage = 0
    ticket.sla_due, ticket.sla_target = due_at, target


def status_changed(ticket: Ticket, previous: str, now: datetime | None = None) -> None:
    """Stop the clocks when the ticket waits on the customer or is solved; move their
    starts on by the business time it waited when it opens again."""
    now = now or utcnow()
    if ticket.status in PAUSED and previous not in PAUSED:
        ticket.sla_paused_at = now
    elif ticket.status in RUNNING and previous in PAUSED and ticket.sla_paused_at is not None:
        calendar = calendar_for(ticket)
        waited = calendar.minutes_between(ticket.sla_paused_at, now)
        if ticket.sla_started_at is not None:
            ticket.sla_started_at = calendar.add(ticket.sla_started_at, waited)
        if ticket.next_response_from is not None:
            ticket.next_response_from = calendar.add(ticket.next_response_from, waited)
        ticket.sla_paused_at = None
    refresh(ticket)


def customer_wrote(ticket: Ticket, previous_status: str, now: datetime) -> None:
    """A customer's message on an existing ticket: it may reopen it (clocks run again) and
    it starts the next-response clock when an agent had answered before."""
    if previous_status != ticket.status:
        status_changed(ticket, previous_status, now)
    if ticket.first_response_at is not None and ticket.next_response_from is None:
        ticket.next_response_from = now
    refresh(ticket)


def agent_replied(ticket: Ticket) -> None:
    """An agent's reply meets the first response and the running next response."""
    ticket.next_response_from = None
    refresh(ticket)


def state(ticket: Ticket, now: datetime | None = None) -> dict[str, Any] | None:
    """What the inbox and the conversation show: the nearest target and how it stands."""
    if ticket.sla_policy_id is None and ticket.sla_due is None:
        return None
    now = now or utcnow()
    if ticket.sla_due is None:
        standing = "paused" if ticket.sla_paused_at is not None else "met"
    elif ticket.sla_due <= now:
        standing = "breached"
    elif ticket.sla_due <= now + warn_window():
        standing = "near"
    else:
        standing = "running"
    return {
        "due": iso(ticket.sla_due),
        "target": ticket.sla_target,
        "state": standing,
        "stage": ticket.sla_stage,
        # A target met is no longer due: the first response once an agent answered.
        "first_response_due": iso(
            ticket.first_response_due if ticket.first_response_at is None else None
        ),
        "next_response_due": iso(ticket.next_response_due),
        "resolution_due": iso(ticket.resolution_due),
    }


def warn_window() -> timedelta:
    """How long before a due time the assignee is warned."""
    return timedelta(minutes=current_app.config.get("SLA_WARN_MINUTES", 30))


REAPPLY_JOB = "helpdesk.sla.clocks:reapply"


def reapply(team_id: int | None = None, batch: int = 500) -> int:
    """Job: apply the current policies and calendars to every open ticket (of one team);
    run after a policy or a team's hours change. Commits per batch; returns the count."""
    policies = snapshot_policies()
    done, after = 0, 0
    while True:
        with unit_of_work.writing():
            query = (
                select(Ticket)
                .where(Ticket.status.in_(RUNNING + ("pending",)), Ticket.id > after)
                .order_by(Ticket.id)
                .limit(batch)
            )
            if team_id is not None:
                query = query.where(Ticket.team_id == team_id)
            tickets = list(db.session.execute(query).scalars())
            if not tickets:
                db.session.rollback()
                return done
            for ticket in tickets:
                if ticket.sla_started_at is None:
                    ticket.sla_started_at = ticket.created_at
                if ticket.status == "pending" and ticket.sla_paused_at is None:
                    ticket.sla_paused_at = utcnow()
                refresh(ticket, policies)
            after, done = tickets[-1].id, done + len(tickets)
            unit_of_work.commit()


def snapshot_policies() -> list[PolicyTerms]:
    """Every policy as plain values (they outlive the scan's many commits)."""
    terms = policy_terms()
    db.session.rollback()
    return terms


def policy_terms() -> list[PolicyTerms]:
    """Every policy as plain values, read in the current transaction."""
    rows = db.session.execute(select(SlaPolicy)).scalars().all()
    return [
        PolicyTerms(
            p.id,
            p.name,
            p.priority,
            p.channel,
            p.organization_id,
            p.first_response_minutes,
            p.next_response_minutes,
            p.resolution_minutes,
        )
        for p in rows
    ]
