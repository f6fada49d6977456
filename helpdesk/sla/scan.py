"""The SLA scan: warn about tickets near their due time, escalate breached ones.

``scan`` (the scheduler runs it every minute) warns the assignee once a due time is
within ``SLA_WARN_MINUTES`` and escalates on breach through the same path as a
person's escalation (``services.escalate``). ``sla_stage`` says how far a target got
(0 running, 1 warned, 2 escalated); it goes back to 0 only when another target
becomes the nearest while still ahead (the first response was given, a new
next-response clock started), so neither a pause, a priority change nor the
escalation itself (whose higher priority may tighten every target) makes the same
breach escalate twice. Every claim is a conditional UPDATE of the stage, so two
schedulers never both act on one ticket.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from helpdesk import unit_of_work
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.sla import notifications
from helpdesk.sla.clocks import LABELS, loaded_policies, snapshot_policies, warn_window
from helpdesk.tickets import events, services
from helpdesk.tickets.models import Ticket

log = logging.getLogger(__name__)
SCAN_JOB = "helpdesk.sla.scan:scan"
BATCH = 500  # tickets warned or escalated per scan and kind; the rest next minute
CHUNK = 50  # tickets handled per transaction (SQLite's write lock is held that long)


def scan(now: datetime | None = None) -> dict:
    """Escalate breached tickets and warn about those near their due time (every minute).

    Due tickets are claimed and handled ``CHUNK`` at a time, one transaction each (a
    failure rolls back its chunk's claims too: the next scan tries them again), with the
    policies read once for the whole scan."""
    now = now or utcnow()
    done = {"escalated": 0, "warned": 0}
    token = loaded_policies.set(snapshot_policies())
    try:
        for stage in (0, 1):
            for chunk in _chunks(_due_ids(stage, now)):
                done["escalated"] += _escalate(chunk, now)
        for chunk in _chunks(_due_ids(0, now + warn_window(), after=now)):
            done["warned"] += _warn(chunk, now)
    finally:
        loaded_policies.reset(token)
    if any(done.values()):
        log.info("SLA scan: %(escalated)s escalated, %(warned)s warned", done)
    return done


def _chunks(ids: list[int]) -> list[list[int]]:
    """``ids`` in slices of CHUNK."""
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _due_ids(stage: int, until: datetime, after: datetime | None = None) -> list[int]:
    """Ids of tickets at ``stage`` due by ``until`` (and after ``after``), earliest first
    (ix_tickets_sla_scan)."""
    query = select(Ticket.id).where(Ticket.sla_stage == stage, Ticket.sla_due <= until)
    if after is not None:
        query = query.where(Ticket.sla_due > after)
    ids = list(db.session.execute(query.order_by(Ticket.sla_due).limit(BATCH)).scalars())
    db.session.rollback()  # end the reading transaction: each chunk writes in its own
    return ids


def _claim(ticket_ids: list[int], stage: int, until: datetime) -> list[Ticket]:
    """Move the tickets still below ``stage`` and due by ``until`` to ``stage`` (a ticket
    another scanner claimed first is left out); the claimed tickets, earliest due first."""
    claimed = (
        db.session.execute(
            update(Ticket)
            .where(Ticket.id.in_(ticket_ids), Ticket.sla_stage < stage, Ticket.sla_due <= until)
            .values(sla_stage=stage)
            .returning(Ticket.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    if not claimed:
        return []
    return list(
        db.session.execute(
            select(Ticket)
            .where(Ticket.id.in_(claimed))
            .order_by(Ticket.sla_due, Ticket.id)
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalars()
    )


def _escalate(ticket_ids: list[int], now: datetime) -> int:
    """Escalate breached tickets through services.escalate; how many this scan did."""
    with unit_of_work.writing():
        tickets = _claim(ticket_ids, 2, now)
        with notifications.digest():  # a lead gets one mail for the chunk, not one a ticket
            for ticket in tickets:
                target, due_at = ticket.sla_target, ticket.sla_due
                # Claimed by their due time; clocks.refresh sets the target with it.
                assert due_at is not None and target is not None
                reason = (
                    f"SLA breached: {LABELS.get(target, target)} was due "
                    f"{due_at:%Y-%m-%d %H:%M} UTC"
                )
                services.escalate(
                    ticket,
                    reason,
                    actor=None,
                    sla_breach={"target": target, "due": due_at.isoformat()},
                )
        unit_of_work.commit()
    return len(tickets)


def _warn(ticket_ids: list[int], now: datetime) -> int:
    """Warn each assignee (or the team's leads) that a due time is near; how many."""
    with unit_of_work.writing():
        tickets = _claim(ticket_ids, 1, now + warn_window())
        for ticket in tickets:
            # Claimed by their due time; clocks.refresh sets the target with it.
            assert ticket.sla_due is not None and ticket.sla_target is not None
            events.record(
                ticket,
                "sla_warning",
                {"target": ticket.sla_target, "due": ticket.sla_due.isoformat()},
            )
            minutes = max(0, int((ticket.sla_due - now).total_seconds() // 60))
            text = (
                f"#{ticket.number} {ticket.subject}: {LABELS.get(ticket.sla_target)} due "
                f"in {minutes} min"
            )
            recipients = (
                [ticket.assignee]
                if ticket.assignee is not None
                else notifications.leads(ticket.team)
            )
            notifications.notify(recipients, "sla_warning", ticket, text)
            events.announce_ticket(ticket)
        unit_of_work.commit()
    return len(tickets)
