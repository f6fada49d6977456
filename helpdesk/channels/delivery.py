"""The delivery job: send a queued outbound message on its channel, record the outcome."""

from __future__ import annotations

import logging

from sqlalchemy import update

from helpdesk import jobs, unit_of_work
from helpdesk.channels.base import DeliveryError, adapter_for
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets import events
from helpdesk.tickets.models import Message, Ticket

log = logging.getLogger(__name__)


def deliver(message_id: int) -> None:
    """Send a queued outbound message; mark it sent, or failed once retries run out.

    Sending waits on a mail server or Twilio, so the message is read and sent in a
    transaction that does not hold SQLite's write lock (run in-process, the job is inside
    a request that declared writes), and the outcome is written in a new transaction that
    takes the lock up front: upgrading the reading one fails once another writer has
    committed meanwhile, and the customer would have a reply still marked queued.
    """
    with unit_of_work.writing(False):
        message = db.session.get(Message, message_id)
        if message is None or message.status not in ("queued", "failed"):
            return  # erased since, or already delivered by an earlier attempt
        ticket = db.session.get(Ticket, message.ticket_id)
        adapter = adapter_for(message.channel)
        try:
            if adapter is None:
                raise DeliveryError(
                    f"no outbound transport for channel {message.channel!r}", permanent=True
                )
            # A message's ticket_id is a non-null foreign key: the ticket is there.
            assert ticket is not None
            with db.session.no_autoflush:  # what it records is written after the send
                external_id = adapter.send(message, ticket)
        except Exception as exc:
            permanent = isinstance(exc, DeliveryError) and exc.permanent
            if not permanent and jobs.retries_left() > 0:
                log.warning("delivery of message %s failed, will retry: %s", message_id, exc)
                raise
            db.session.rollback()
            with unit_of_work.writing():
                _mark_failed(message_id, exc)
            return
    with unit_of_work.carried_write_phase():  # with what the adapter recorded while sending
        if external_id:
            message.external_id = external_id
        message.sent_at = utcnow()
        db.session.flush()
        # A delivery callback may have committed a later status while we were sending.
        db.session.execute(
            update(Message)
            .where(Message.id == message.id, Message.status.in_(("queued", "failed")))
            .values(status="sent", error=None)
        )
        db.session.refresh(message)
        events.announce_message_status(message, ticket)
        unit_of_work.commit()


def _mark_failed(message_id: int, exc: Exception) -> None:
    """The delivery failed for good: say so on the message, for the agent to see."""
    message = db.session.get(Message, message_id)
    assert message is not None  # None would fail on the next line anyway
    message.status = "failed"
    message.error = str(exc)[:2000] or type(exc).__name__
    ticket = db.session.get(Ticket, message.ticket_id)
    assert ticket is not None  # a message's ticket_id is a non-null foreign key
    events.announce_message_status(message, ticket)
    unit_of_work.commit()
    log.error("delivery of message %s failed for good: %s", message_id, exc)
