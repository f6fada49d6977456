"""Jobs of the ticket domain: deliver an agent's reply on its channel."""
from __future__ import annotations

import logging

from sqlalchemy import update

from .. import unit_of_work
from ..channels.base import DeliveryError, adapter_for
from ..extensions import db
from ..models_base import utcnow
from . import events
from .models import Message, Ticket

log = logging.getLogger(__name__)


def _retries_left() -> int:
    """How many more times RQ will run this job; 0 when run in-process."""
    try:
        from rq import get_current_job
    except ImportError:  # pragma: no cover - rq is a dependency
        return 0
    job = get_current_job()
    return (job.retries_left or 0) if job is not None else 0


def deliver(message_id: int) -> None:
    """Send a queued outbound message; mark it sent, or failed once retries run out."""
    message = db.session.get(Message, message_id)
    if message is None or message.status not in ("queued", "failed"):
        return  # erased since, or already delivered by an earlier attempt
    ticket = db.session.get(Ticket, message.ticket_id)
    adapter = adapter_for(message.channel)
    try:
        if adapter is None:
            raise DeliveryError(f"no outbound transport for channel {message.channel!r}",
                                permanent=True)
        external_id = adapter.send(message, ticket)
    except Exception as exc:
        permanent = isinstance(exc, DeliveryError) and exc.permanent
        if not permanent and _retries_left() > 0:
            log.warning("delivery of message %s failed, will retry: %s", message_id, exc)
            raise
        db.session.rollback()
        message = db.session.get(Message, message_id)
        message.status = "failed"
        message.error = str(exc)[:2000] or type(exc).__name__
        events.announce_message_status(message, ticket)
        unit_of_work.commit()
        log.error("delivery of message %s failed for good: %s", message_id, exc)
        return
    if external_id:
        message.external_id = external_id
    message.sent_at = utcnow()
    db.session.flush()
    # A delivery callback may have committed a later status while we were sending.
    db.session.execute(update(Message).where(Message.id == message.id,
                                             Message.status.in_(("queued", "failed")))
                       .values(status="sent", error=None))
    db.session.refresh(message)
    events.announce_message_status(message, ticket)
    unit_of_work.commit()


def close_solved(days: int = 4) -> int:
    """Close tickets solved more than ``days`` ago (they then no longer reopen)."""
    from datetime import timedelta

    from sqlalchemy import select

    cutoff = utcnow() - timedelta(days=days)
    tickets = db.session.execute(select(Ticket).where(
        Ticket.status == "solved", Ticket.solved_at < cutoff).limit(1000)).scalars().all()
    for ticket in tickets:
        events.record(ticket, "status", {"from": "solved", "to": "closed",
                                         "why": f"solved for {days} days"})
        ticket.status = "closed"
        events.announce_ticket(ticket)
    unit_of_work.commit()
    return len(tickets)
