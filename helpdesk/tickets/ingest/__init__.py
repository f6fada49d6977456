"""The one path every inbound message takes, whatever channel it came on.

match the sender to a customer -> thread onto a ticket or open one -> store
-> commit -> only then emit realtime events and enqueue follow-up jobs.
Idempotent on (channel, external id): a provider's retry changes nothing.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial

from flask import current_app
from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload, lazyload

from helpdesk import jobs, unit_of_work
from helpdesk.channels.inbound import InboundMessage
from helpdesk.customers import services as customers
from helpdesk.customers.identities import InvalidIdentity, normalise
from helpdesk.customers.models import Customer
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.metrics import registry as metrics
from helpdesk.sla import clocks as sla
from helpdesk.tickets import events, replies
from helpdesk.tickets.html import html_to_text
from helpdesk.tickets.ingest.store import store_message
from helpdesk.tickets.models import Message, Ticket

log = logging.getLogger(__name__)
_SUBJECT_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_TOKEN = re.compile(r"\[#\d+\]\s*")

# Job paths ("module:function") run with the new message's id after every
# non-automatic inbound message; other features register theirs at start-up.
_FOLLOW_UPS: list[tuple[str, str | None, Callable[[Message], bool] | None]] = []


def register_follow_up(
    path: str, channel: str | None = None, wanted: Callable[[Message], bool] | None = None
) -> None:
    """Run ``path(message_id)`` as a job after each inbound message (of ``channel``;
    only for messages ``wanted`` accepts, when given)."""
    if not any(p == path and c == channel for p, c, _ in _FOLLOW_UPS):
        _FOLLOW_UPS.append((path, channel, wanted))


# Claims: a feature waiting for a customer's answer (the survey's "reply 1-5") takes
# the message onto its ticket, handled there: the ticket is not reopened, no follow-up
# runs. Registered at start-up; each sees the message and its known customer.
_CLAIMS: list[Callable[[InboundMessage, Customer], Ticket | None]] = []


def register_claim(claim: Callable[[InboundMessage, Customer], Ticket | None]) -> None:
    """Let ``claim(inbound, customer)`` take a message onto a ticket (or answer None)."""
    if claim not in _CLAIMS:
        _CLAIMS.append(claim)


# Observers: features that learn from an inbound message in its transaction (a campaign
# links a reply to itself and counts a bounce); each gets the message, its ticket and
# the InboundMessage, after the flush; they flush, never commit.
_OBSERVERS: list[Callable[[InboundMessage, Message, Ticket], None]] = []


def register_observer(observer: Callable[[InboundMessage, Message, Ticket], None]) -> None:
    """Call ``observer(inbound, message, ticket)`` inside ingest's transaction."""
    if observer not in _OBSERVERS:
        _OBSERVERS.append(observer)


# Every message runs these queries: each statement is built once, on first use (when
# the mappers are configured), so SQLAlchemy does not rebuild and re-key it for its
# compiled-statement cache on every call.
@cache
def _duplicate_query() -> Select[int]:
    """The id of the message stored under (:channel, :external_id)."""
    return select(Message.id).where(
        Message.channel == bindparam("channel"), Message.external_id == bindparam("external_id")
    )


@cache
def _continuing_query(on_channel: bool) -> Select[Ticket]:
    """The customer's recent open tickets on a channel and contact address, newest first."""
    query = (
        select(Ticket)
        .where(
            Ticket.customer_id == bindparam("customer_id"),
            Ticket.channel == bindparam("channel"),
            Ticket.contact == bindparam("contact"),
            Ticket.status.in_(("new", "open", "pending")),
            Ticket.last_message_at >= bindparam("since"),
        )
        .order_by(Ticket.last_message_at.desc())
        .limit(5)
        # (the caller holds the customer; the tags, shown after the commit, in one query)
        .options(lazyload(Ticket.customer), joinedload(Ticket.tag_rows))
    )
    return query.where(Ticket.channel_id == bindparam("channel_id")) if on_channel else query


# Set by batch ingest: the customer of each of the batch's senders, ``(kind, normalised
# value) -> customer``, None for an unknown one (a sender not in it is looked up as usual).
prefetched_senders: ContextVar[dict[tuple[str, str], Customer | None] | None] = ContextVar(
    "prefetched_senders", default=None
)


@dataclass
class IngestResult:
    """What ``ingest`` did with one inbound message."""

    message: Message
    ticket: Ticket
    customer: Customer
    created_ticket: bool = False
    created_customer: bool = False
    duplicate: bool = False


def ingest(inbound: InboundMessage) -> IngestResult:
    """Store one inbound message on the right ticket and commit; safe to call twice."""
    attempts = 4
    for attempt in range(1, attempts + 1):
        try:
            with unit_of_work.writing():
                result = _ingest(inbound)
                db.session.commit()
            break
        except IntegrityError:
            # A concurrent ingest of the same message or identity won the race;
            # the next attempt finds its rows and deduplicates.
            db.session.rollback()
            if attempt == attempts:
                raise
        except OperationalError as exc:
            # SQLite: a transaction begun before ingest could not take the write lock.
            db.session.rollback()
            if "locked" not in str(exc) or attempt == attempts:
                raise
            time.sleep(0.05 * attempt)
    unit_of_work.run_ready()
    return result


def _ingest(inbound: InboundMessage) -> IngestResult:
    """Do the work of ``ingest`` inside the caller's transaction, flushing only."""
    stored = stored_duplicate(inbound)
    if stored is not None:
        return stored
    staged = stage(inbound)
    db.session.flush()
    return finish(staged)


def stored_duplicate(inbound: InboundMessage) -> IngestResult | None:
    """The message already stored under the inbound's provider id, as a duplicate result."""
    if not inbound.external_id:
        return None
    existing_id = db.session.execute(
        _duplicate_query(), {"channel": inbound.channel, "external_id": inbound.external_id}
    ).scalar()
    if existing_id is None:
        return None
    existing = db.session.get(Message, existing_id)  # rare: load the whole message only now
    assert existing is not None  # its id was just read in this transaction
    ticket = db.session.get(Ticket, existing.ticket_id)
    assert ticket is not None  # a message's ticket_id is a non-null foreign key
    return IngestResult(existing, ticket, ticket.customer, duplicate=True)


@dataclass
class Staged:
    """A message made and added to the session, waiting for its flush (``finish``)."""

    inbound: InboundMessage
    result: IngestResult
    claimed: bool


def stage(
    inbound: InboundMessage, known_customer: Callable[[Customer], None] | None = None
) -> Staged:
    """Match, thread and make the rows of a message not stored yet, without flushing.
    ``known_customer`` sees the matched customer before any query about its tickets (the
    batch flushes there when an earlier message of the batch touched that customer)."""
    review = [inbound.review_reason] if inbound.review_reason else []
    try:
        contact = normalise(inbound.sender_kind, inbound.sender)
    except InvalidIdentity as exc:
        contact = None
        review.append(f"sender could not be identified: {exc}")

    # Nothing below needs to see its own rows before they are written: they are all
    # written by the one flush at the end (fewer statements, and one unit-of-work pass).
    with db.session.no_autoflush:
        ticket = _referenced_ticket(inbound)
        customer, created_customer = _customer(inbound, contact, ticket)
        if known_customer is not None and not created_customer:
            known_customer(customer)
        claimed = None
        if ticket is None and not created_customer and not inbound.is_auto:
            claimed = ticket = next(filter(None, (c(inbound, customer) for c in _CLAIMS)), None)
        if ticket is None and inbound.ticket_number and not created_customer:
            ticket = _numbered_ticket(inbound.ticket_number, customer)
        if ticket is None and contact is not None and not created_customer:
            # (a customer created just now has no conversation to continue)
            ticket = _continuing_ticket(inbound, customer, contact)
        created_ticket = ticket is None
        now = inbound.received_at or utcnow()
        if ticket is None:  # i.e. created_ticket
            ticket = _open_ticket(inbound, customer, contact, now)

        message = store_message(inbound, ticket, review, now)
        if not created_ticket:  # a new ticket was born with these values: no UPDATE
            ticket.last_message_at = now
            ticket.last_inbound_at = now
            ticket.message_count = (ticket.message_count or 0) + 1
            previous_status = ticket.status
            if claimed is None:
                _reopen_if_waiting(ticket, message)
                if not message.is_auto:
                    sla.customer_wrote(ticket, previous_status, now)
        customers.touch_contact(customer, now)
    result = IngestResult(message, ticket, customer, created_ticket, created_customer)
    return Staged(inbound, result, claimed is not None)


def finish(staged: Staged) -> IngestResult:
    """After the flush: what the message says about us (bounces, opt-outs), and the
    realtime events and follow-up jobs registered for after the commit."""
    inbound, result = staged.inbound, staged.result
    if result.created_customer:
        log.info("created customer %s for a new %s sender", result.customer.id, inbound.channel)
        customers.announce(result.customer, created=True)
    if inbound.undelivered:
        replies.mark_undelivered(
            inbound.channel, inbound.undelivered, inbound.undelivered_reason, result.message
        )
    if inbound.opt_out is not None:
        replies.sms_opt_out(
            result.customer, inbound.opt_out, inbound.text.strip()[:20], result.ticket
        )
    for observer in _OBSERVERS:
        observer(inbound, result.message, result.ticket)
    _after_commit(result.message, result.ticket, result.created_ticket, not staged.claimed)
    return result


def _customer(
    inbound: InboundMessage, contact: str | None, ticket: Ticket | None
) -> tuple[Customer, bool]:
    """The sender's customer and whether it is new (added to the session, not flushed)."""
    if inbound.is_auto and ticket is not None:
        # A bounce or auto-reply to our own message belongs to that ticket's customer;
        # the mailer daemon that sent it is nobody's customer.
        return ticket.customer, False
    if contact is not None:
        known = prefetched_senders.get()  # a batch's senders, looked up at once
        key = (inbound.sender_kind, contact)
        if known is not None and key in known:
            customer = known[key]
        else:
            customer = customers.find_sender(inbound.sender_kind, contact)
        if customer is not None:
            return customer, False
        # A concurrent ingest creating the same identity fails our flush on the unique
        # constraint; ``ingest`` then tries again and finds that customer.
        return customers.new_customer(inbound.sender_kind, contact, inbound.sender_name), True
    if ticket is not None:
        return ticket.customer, False
    # Nothing lost: an unidentifiable sender still gets a record a person can fix.
    customer = Customer(
        name=(inbound.sender_name or inbound.sender or "Unknown sender")[:200],
        tags=[],
        custom_fields={},
    )
    db.session.add(customer)
    return customer, True


def _referenced_ticket(inbound: InboundMessage) -> Ticket | None:
    """The ticket of the newest stored or sent message this one refers to."""
    refs = [r for r in inbound.references if r][-50:]
    if not refs:
        return None
    ticket = db.session.execute(
        select(Ticket)
        .join(Message, Message.ticket_id == Ticket.id)
        .where(
            Message.channel == inbound.channel,
            Message.external_id.in_(refs),
            Ticket.status != "closed",
        )
        .order_by(Message.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return ticket


def _numbered_ticket(number: int, customer: Customer) -> Ticket | None:
    """A ``[#number]`` reference counts only on the sender's own, not closed, ticket."""
    ticket = db.session.get(Ticket, number)
    if ticket is not None and ticket.customer_id == customer.id and ticket.status != "closed":
        return ticket
    return None


def normalised_subject(subject: str | None) -> str:
    """A subject without reply prefixes and ticket tokens, for matching."""
    subject = _TOKEN.sub("", subject or "")
    return _SUBJECT_PREFIX.sub("", subject).strip().lower()


def _continuing_ticket(inbound: InboundMessage, customer: Customer, contact: str) -> Ticket | None:
    """The customer's open conversation on this channel and address, if recent."""
    window = timedelta(hours=current_app.config["THREAD_WINDOW_HOURS"])
    params = {
        "customer_id": customer.id,
        "channel": inbound.channel,
        "contact": contact,
        "since": utcnow() - window,
    }
    if inbound.channel_id is not None:
        params["channel_id"] = inbound.channel_id
    query = _continuing_query("channel_id" in params)
    candidates = db.session.execute(query, params).unique().scalars().all()
    if inbound.channel == "email":
        # A mail is a new request unless it answers an earlier one by subject.
        wanted = normalised_subject(inbound.subject)
        candidates = [t for t in candidates if wanted and normalised_subject(t.subject) == wanted]
    return candidates[0] if candidates else None


def _open_ticket(
    inbound: InboundMessage, customer: Customer, contact: str | None, now: datetime
) -> Ticket:
    """A new ticket for this message, routed to its channel's team."""
    from helpdesk.channels.models import Channel

    subject = _TOKEN.sub("", inbound.subject or "").strip()
    if not subject:
        first = (inbound.text or html_to_text(inbound.html) or "").strip().splitlines()
        subject = first[0] if first else f"New {inbound.channel} conversation"
    channel = db.session.get(Channel, inbound.channel_id) if inbound.channel_id else None
    ticket = Ticket(
        subject=subject[:300],
        status="new",
        priority="normal",
        channel=inbound.channel,
        channel_id=inbound.channel_id,
        contact=contact,
        customer=customer,
        team_id=channel.team_id if channel else None,
        message_count=1,
        tag_rows=[],
        created_at=now,
        last_message_at=now,
        last_inbound_at=now,
    )
    db.session.add(ticket)
    sla.start(ticket, now)
    events.record(ticket, "created", {"channel": inbound.channel})
    return ticket


def _reopen_if_waiting(ticket: Ticket, message: Message) -> None:
    """A customer's answer reopens a pending or solved ticket; an auto-reply does not."""
    if message.is_auto or ticket.status in ("new", "open"):
        return
    previous = ticket.status
    ticket.status = "open"
    ticket.solved_at = None
    events.record(ticket, "status", {"from": previous, "to": "open", "why": "customer replied"})


def _after_commit(
    message: Message, ticket: Ticket, created_ticket: bool, follow_ups: bool = True
) -> None:
    """Queue the realtime events and follow-up jobs for after the commit."""
    unit_of_work.after_commit(partial(metrics.count_ingested, message.channel))
    events.announce_message(message, ticket, created_ticket)
    if message.is_auto or not follow_ups:
        return
    for path, channel, wanted in _FOLLOW_UPS:
        if (channel is None or channel == message.channel) and (wanted is None or wanted(message)):
            jobs.enqueue(path, message.id)
