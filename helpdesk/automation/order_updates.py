"""Proactive order updates: a customer who asked for them is told, once per change, when the
shop moves one of their orders to shipped, delayed, delivered or cancelled.

The opt-in is the customer's consent ``order_updates`` (not granted by default; ``PATCH
/api/v1/customers/ID`` ``consents`` or the shorthand ``order_updates``, the customer page,
the customer CSV import). The rules:

Once per change. ``customers.orders.upsert`` calls ``recorded`` after it flushed a status
change (a PUT that repeats the status the order already has is no change and calls
nothing). In the same transaction, for an opted-in customer and a status in
``NOTIFY_STATUSES``, it writes an ``OrderNotification`` row numbered one past the
order's latest row, unless that latest row already carries the same status: the
customer is told about what changed since the last thing they were told, so
shipped -> delayed -> shipped is told three times, shipped -> processing -> shipped
once. ``(order_id, sequence)`` is unique: of two requests that make the same change at
once, only one row survives (the other's savepoint rolls back and it records nothing;
on PostgreSQL the second request waits for the order's row lock and then already sees
the first row). After the commit the job ``send`` takes the row under a row lock and
acts only while it is ``pending``, so a retried or doubled job never sends twice. It
skips (and says why on the row) a change that a later one superseded before it went
out, a customer who opted out meanwhile, and a job that runs a day late.

The channel. The customer's ``preferred_channel`` when it is email or SMS and they can be
reached there, else email, else SMS. Reachable: an email identity and an active
mailbox to send from; a phone identity, no SMS opt-out (STOP: customers/consents.py),
and a number to text from (the phone channel of ``TWILIO_NUMBER``, else the first phone
channel, else ``TWILIO_NUMBER`` itself). Chat and voice cannot carry a message nobody is waiting
for, so they fall back like an unreachable preference. Nowhere to send: the row is
``skipped`` with the reasons, and nothing is sent. The language is the customer's
(``bot_texts.language_for``: German or English, else English).

Where the message lives. On the customer's newest open ticket on that channel and
address that is about the order (an earlier update of the order went there, or its
subject or one of its messages names the order number), else on a new ticket
("Order 10023: shipped", on the chosen mailbox or phone line, routed to its team,
tagged ``order-update``) that is born ``solved``: it waits in no queue. The body is the
order bot's status text (status, carrier, tracking link, expected delivery) and a line
saying why it came. It is an outbound ``bot`` message delivered by
``tickets.tasks:deliver`` like the bot's answers, recorded as an ``order_update``
ticket event. A mail answer threads onto the ticket by our Message-ID (or its
``[#number]``) and reopens it. SMS has no references: ingest continues only open SMS
tickets, so a text answering an update on a solved ticket opens a new ticket for the
line's team like any new text (the order bot answers it if it asks about an order);
the update stays beside it in the customer's history.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from helpdesk import jobs, unit_of_work
from helpdesk.automation import bot_texts
from helpdesk.channels.base import adapter_for
from helpdesk.channels.models import Channel
from helpdesk.customers import consents
from helpdesk.customers.models import Customer, Order, OrderNotification
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.sla import clocks as sla
from helpdesk.tickets import events
from helpdesk.tickets.models import OPEN_STATUSES, Message, Ticket

log = logging.getLogger(__name__)
JOB = "helpdesk.automation.order_updates:send"
NOTIFY_STATUSES = frozenset({"shipped", "delayed", "delivered", "cancelled"})
REACHABLE = ("email", "sms")  # channels that can carry a message nobody asked for, in order
TAG = "order-update"  # on the tickets opened for an update
STALE = timedelta(hours=24)  # a job run later than this leaves the news untold
MAX_CANDIDATES = 5  # open tickets of the customer looked at for one about the order


@dataclass(frozen=True)
class Route:
    """Where an update goes: the channel, the customer's address on it, and the mailbox or
    phone line it goes out through (None: the SMS number of the configuration)."""

    channel: str
    address: str
    line: Channel | None


# ----- in the transaction of the order change ------------------------------------


def recorded(order: Order, previous: str) -> OrderNotification | None:
    """Status listener: write the change to be told (see the module's rules) and enqueue its
    job for after the commit; return the row, or None when nobody is to be told."""
    if order.status not in NOTIFY_STATUSES:
        return None
    customer = db.session.get(Customer, order.customer_id)
    if customer is None or not consents.granted(customer, "order_updates"):
        return None
    latest = db.session.execute(
        select(OrderNotification)
        .where(OrderNotification.order_id == order.id)
        .order_by(OrderNotification.sequence.desc())
        .limit(1)
    ).scalar_one_or_none()
    if latest is not None and latest.status == order.status:
        return None  # the customer's last news is this status already
    row = OrderNotification(
        order_id=order.id,
        status=order.status,
        previous_status=previous,
        sequence=latest.sequence + 1 if latest is not None else 1,
        outcome="pending",
        created_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        # A concurrent request recorded this change first: it is that request's to tell.
        log.info(
            "order %s: change to %s recorded by a concurrent request", order.number, order.status
        )
        return None
    jobs.enqueue(JOB, row.id, retries=2)
    return row


# ----- the job ---------------------------------------------------------------------


def send(notification_id: int) -> None:
    """Job: tell the customer about change ``notification_id`` (once, whatever happens)."""
    with unit_of_work.write_phase():
        # Lock the row: a second run of this job waits here, then finds it decided.
        row = db.session.execute(
            select(OrderNotification)
            .where(OrderNotification.id == notification_id)
            .with_for_update(of=OrderNotification)
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if row is None or row.outcome != "pending":
            db.session.rollback()
            return
        order = db.session.get(Order, row.order_id, populate_existing=True)
        customer = (
            db.session.get(Customer, order.customer_id, populate_existing=True)
            if order is not None
            else None
        )
        reason = why_not(row, order, customer)
        route: Route | None = None
        if reason is None:
            assert customer is not None  # (else why_not says why not)
            chosen = choose_route(customer)
            if isinstance(chosen, str):
                reason = chosen
            else:
                route = chosen
        if route is None:
            _decide(row, "skipped", reason=reason)
            unit_of_work.commit()
            log.info("order update %s skipped: %s", notification_id, reason)
            return
        assert order is not None and customer is not None  # (a route: why_not said yes)
        language = bot_texts.language_for(customer, "")
        ticket, created = ticket_for(customer, order, route, language)
        message = _message(ticket, route, order, row, language)
        events.record(
            ticket,
            "order_update",
            {
                "order": order.number,
                "status": row.status,
                "notification": row.id,
                "message": message.id,
                "language": language,
            },
        )
        _decide(row, "queued", channel=route.channel, ticket_id=ticket.id, message_id=message.id)
        events.announce_message(message, ticket, created_ticket=created)
        jobs.enqueue(
            "helpdesk.channels.delivery:deliver", message.id, queue_name="outbound", retries=3
        )
        unit_of_work.commit()
    log.info(
        "order update %s queued as message %s on ticket %s", notification_id, message.id, ticket.id
    )


def why_not(row: OrderNotification, order: Order | None, customer: Customer | None) -> str | None:
    """Why the change ``row`` must not be told any more, or None."""
    if order is None:
        return "the order is gone"
    if customer is None or not consents.granted(customer, "order_updates"):
        return "the customer no longer wants order updates"
    if order.status != row.status:
        return f"the order changed again (to {order.status}) before the update went out"
    later = db.session.execute(
        select(
            exists().where(
                OrderNotification.order_id == row.order_id,
                OrderNotification.sequence > row.sequence,
            )
        )
    ).scalar()
    if later:
        return "a later change of the order superseded it"
    if utcnow() - row.created_at > STALE:
        return "too late to be news"
    return None


def _decide(row: OrderNotification, outcome: str, reason: str | None = None, **fields) -> None:
    """Write the job's decision on the row (so no run decides it again)."""
    row.outcome, row.reason, row.decided_at = outcome, (reason or "")[:200] or None, utcnow()
    for name, value in fields.items():
        setattr(row, name, value)


# ----- the channel ------------------------------------------------------------------


def choose_route(customer: Customer) -> Route | str:
    """The channel, address and line an update to ``customer`` goes by (the module's rules),
    or why there is none."""
    preferred = customer.preferred_channel
    order = ([preferred] if preferred in REACHABLE else []) + [
        channel for channel in REACHABLE if channel != preferred
    ]
    reasons = []
    for channel in order:
        route = _route(customer, channel)
        if isinstance(route, Route):
            return route
        reasons.append(route)
    return "; ".join(reasons)


def _route(customer: Customer, channel: str) -> Route | str:
    """The route on one channel, or why the customer cannot be reached on it."""
    if adapter_for(channel) is None:
        return f"{channel}: no transport"
    if channel == "email":
        from helpdesk.channels.email.mailboxes import mailboxes

        addresses = customer.values("email")
        if not addresses:
            return "no email address"
        boxes = mailboxes()
        if not boxes:
            return "no mailbox to send email from"
        return Route("email", addresses[0], boxes[0])
    addresses = customer.values("phone")
    if not addresses:
        return "no phone number"
    if consents.sms_blocked(customer):
        return "opted out of SMS"
    line = _phone_line()
    if line is None and not _configured_number():
        return "no number to text from"
    return Route("sms", addresses[0], line)


def _configured_number() -> str | None:
    """TWILIO_NUMBER in E.164, if set."""
    from helpdesk.channels.twilio.common import e164

    return e164(current_app.config.get("TWILIO_NUMBER"))


def _phone_line() -> Channel | None:
    """The phone channel texts go out from: TWILIO_NUMBER's, else the first active one."""
    from helpdesk.channels.twilio.common import PHONE, phone_channel

    line = phone_channel(_configured_number())
    if line is not None:
        return line
    return db.session.execute(
        select(Channel)
        .where(Channel.kind == PHONE, Channel.active.is_(True))
        .order_by(Channel.id)
        .limit(1)
    ).scalar_one_or_none()


# ----- the ticket and the message -----------------------------------------------------


def ticket_for(
    customer: Customer, order: Order, route: Route, language: str
) -> tuple[Ticket, bool]:
    """The ticket the update goes on, and whether it was opened for it (the module's rules)."""
    ticket = open_ticket_about(customer, order, route)
    if ticket is not None:
        return ticket, False
    now = utcnow()
    line = route.line
    ticket = Ticket(
        subject=bot_texts.update_subject(order, language),
        status="solved",
        solved_at=now,
        priority="normal",
        channel=route.channel,
        channel_id=line.id if line is not None else None,
        contact=route.address,
        customer=customer,
        team_id=line.team_id if line is not None else None,
        message_count=0,
        created_at=now,
        last_message_at=now,
    )
    ticket.set_tags([TAG])
    db.session.add(ticket)
    db.session.flush()
    # Like a ticket an agent opens solved: the SLA clocks start paused, so an answer that
    # reopens it days later is measured from the answer, not from the update.
    sla.start(ticket, now)
    sla.status_changed(ticket, "new", now)
    events.record(
        ticket, "created", {"channel": route.channel, "by": "order_update", "status": "solved"}
    )
    return ticket, True


def open_ticket_about(customer: Customer, order: Order, route: Route) -> Ticket | None:
    """The customer's newest open ticket on the route's channel and address that is about
    ``order``: an earlier update of the order went there, or its subject or one of its
    messages names the order number. At most MAX_CANDIDATES tickets are looked at."""
    candidates = (
        db.session.execute(
            select(Ticket)
            .where(
                Ticket.customer_id == customer.id,
                Ticket.channel == route.channel,
                Ticket.contact == route.address,
                Ticket.status.in_(OPEN_STATUSES),
            )
            .order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
            .limit(MAX_CANDIDATES)
        )
        .unique()
        .scalars()
        .all()
    )
    if not candidates:
        return None
    ids = [ticket.id for ticket in candidates]
    names = _names(order.number)
    about = set(
        db.session.execute(
            select(OrderNotification.ticket_id).where(
                OrderNotification.order_id == order.id, OrderNotification.ticket_id.in_(ids)
            )
        ).scalars()
    )
    about |= {ticket.id for ticket in candidates if names.search(ticket.subject or "")}
    if len(about) < len(ids):
        rest = [i for i in ids if i not in about]
        mentions = db.session.execute(
            select(Message.ticket_id, Message.body_text)
            .where(
                Message.ticket_id.in_(rest),
                Message.direction.in_(("in", "out")),
                Message.body_text.contains(order.number, autoescape=True),
            )
            .limit(50)
        ).all()
        about |= {ticket_id for ticket_id, text in mentions if names.search(text or "")}
    return next((ticket for ticket in candidates if ticket.id in about), None)


def _names(number: str) -> re.Pattern:
    """The order number as a whole word (10023, not 100234)."""
    return re.compile(rf"(?<![\w-]){re.escape(number)}(?![\w-])")


def _message(
    ticket: Ticket, route: Route, order: Order, row: OrderNotification, language: str
) -> Message:
    """The outbound ``bot`` message of the update, queued like the order bot's answers."""
    from helpdesk.tickets.replies import automatic_reply

    return automatic_reply(
        ticket,
        route.channel,
        bot_texts.update_body(order, language),
        {"order_update": {"order": order.number, "status": row.status, "notification": row.id}},
    )
