"""The delivery job: send a queued outbound message on its channel, record the outcome;
and the periodic job that sends again what is left queued.

A reply is stored ``queued`` and its job enqueued after the commit; that job can be lost
(Redis down at the enqueue, a worker killed), and a transient error (a mail server or
Twilio unreachable, a 5xx) is worth trying again. So each attempt first claims the
message (``sending_since``; two jobs never send one message at once), counts it
(``send_attempts``), and on a transient error, once RQ's own retries are spent (at once
when run in-process: no request waits for a backoff), schedules the next attempt
(``next_attempt_at``, after ``BACKOFF``); ``requeue`` (every minute) hands those due, and
those left queued without a job for ``DELIVERY_REQUEUE_AFTER`` seconds, to the send job
again. After ``MAX_ATTEMPTS`` the reply is failed, for the agent to see.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import CursorResult, and_, or_, select, update

from helpdesk import jobs, unit_of_work
from helpdesk.channels.base import DeliveryError, adapter_for
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets import events
from helpdesk.tickets.models import Message, Ticket

log = logging.getLogger(__name__)
DELIVER_JOB = "helpdesk.channels.delivery:deliver"
MAX_ATTEMPTS = 6
BACKOFF = (30, 120, 600, 1800, 3600)  # seconds before attempts 2, 3, ...
LEASE = timedelta(minutes=5)  # a claim older than this belongs to a job that died


def _lease() -> timedelta:
    """How old a claim is before it counts as a dead job's (DELIVERY_LEASE_SECONDS)."""
    return timedelta(seconds=current_app.config.get("DELIVERY_LEASE_SECONDS", LEASE.seconds))


REQUEUE_BATCH = 200


def deliver(message_id: int) -> None:
    """Send a queued outbound message; mark it sent, or failed once retries run out.

    Sending waits on a mail server or Twilio, so the message is read and sent in a
    transaction that does not hold SQLite's write lock (run in-process, the job is inside
    a request that declared writes), and the outcome is written in a new transaction that
    takes the lock up front: upgrading the reading one fails once another writer has
    committed meanwhile, and the customer would have a reply still marked queued.
    """
    if not _claim(message_id):
        return  # erased, delivered by an earlier attempt, or being sent by another job
    with unit_of_work.writing(False):
        message = db.session.get(Message, message_id)
        if message is None or message.status not in ("queued", "failed"):
            return
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
            db.session.rollback()
            if not permanent and jobs.retries_left() > 0:
                log.warning("delivery of message %s failed, will retry: %s", message_id, exc)
                _release(message_id)
                raise
            with unit_of_work.writing():
                if permanent or message.send_attempts >= MAX_ATTEMPTS:
                    _mark_failed(message_id, exc)
                else:
                    _retry_later(message_id, exc)
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
            .values(status="sent", error=None, sending_since=None, next_attempt_at=None)
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


def _claim(message_id: int) -> bool:
    """Take the message for this attempt (count it), unless it is sent or being sent."""
    now = utcnow()
    with unit_of_work.writing():
        claimed: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
            update(Message)
            .where(
                Message.id == message_id,
                Message.status.in_(("queued", "failed")),
                or_(Message.sending_since.is_(None), Message.sending_since < now - _lease()),
            )
            .values(sending_since=now, send_attempts=Message.send_attempts + 1)
        )
        db.session.commit()
    return bool(claimed.rowcount)


def _release(message_id: int) -> None:
    """Give the claim back (RQ runs the job again by itself)."""
    with unit_of_work.writing():
        db.session.execute(
            update(Message).where(Message.id == message_id).values(sending_since=None)
        )
        db.session.commit()


def _retry_later(message_id: int, exc: Exception) -> None:
    """A transient failure: keep the message queued and say when it is tried again."""
    message = db.session.get(Message, message_id)
    assert message is not None  # claimed by this job a moment ago
    wait = BACKOFF[min(message.send_attempts, len(BACKOFF)) - 1]
    message.sending_since = None
    message.next_attempt_at = utcnow() + timedelta(seconds=wait)
    message.error = (
        f"Not sent yet (attempt {message.send_attempts} of {MAX_ATTEMPTS}); "
        f"trying again in {wait} seconds: {str(exc)[:1800] or type(exc).__name__}"
    )
    ticket = db.session.get(Ticket, message.ticket_id)
    assert ticket is not None  # a message's ticket_id is a non-null foreign key
    events.announce_message_status(message, ticket)
    unit_of_work.commit()
    log.warning("delivery of message %s failed, trying again in %ss: %s", message_id, wait, exc)


def requeue() -> int:
    """Periodic job: hand the send job the queued messages whose retry is due, and those
    left queued for ``DELIVERY_REQUEUE_AFTER`` seconds without one (a lost job); returns
    how many. Each is marked not to be handed again for a minute meanwhile."""
    now = utcnow()
    after = timedelta(seconds=current_app.config.get("DELIVERY_REQUEUE_AFTER", 60))
    with unit_of_work.writing():
        ids = list(
            db.session.scalars(
                select(Message.id)
                .where(
                    Message.status == "queued",
                    Message.direction == "out",
                    or_(Message.sending_since.is_(None), Message.sending_since < now - _lease()),
                    or_(
                        Message.next_attempt_at <= now,
                        and_(Message.next_attempt_at.is_(None), Message.created_at <= now - after),
                    ),
                )
                .order_by(Message.id)
                .limit(REQUEUE_BATCH)
            )
        )
        db.session.commit()
        _schedule(ids, now + max(after, timedelta(minutes=1)))
    for done, message_id in enumerate(ids):
        try:
            jobs.submit(DELIVER_JOB, message_id, queue_name="outbound")
        except Exception:
            _schedule(ids[done:], now)  # not handed over (Redis down): due again next time
            raise
    if ids:
        log.info("requeued %d queued message(s) for delivery", len(ids))
    return len(ids)


def _schedule(ids: list[int], when: datetime) -> None:
    """Set the next attempt of the queued messages ``ids``."""
    with unit_of_work.writing():
        if ids:
            db.session.execute(
                update(Message)
                .where(Message.id.in_(ids), Message.status == "queued")
                .values(next_attempt_at=when)
            )
        db.session.commit()
