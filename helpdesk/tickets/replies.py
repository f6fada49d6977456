"""What the desk writes to customers and what becomes of it: an agent's reply or internal
note, the desk's automatic answers (order bot, acknowledgements, order updates), and
their fate as the channels report it (delivery status, bounces, SMS opt-outs, media fetched
later). Each
flushes; the caller commits once, and the send job (``channels.delivery``) runs after.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from helpdesk import jobs
from helpdesk.agents.models import Agent
from helpdesk.channels.base import adapter_for
from helpdesk.customers import consents
from helpdesk.customers.models import Customer
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Invalid
from helpdesk.extensions import db
from helpdesk.files import uploads
from helpdesk.sla import clocks as sla
from helpdesk.tickets import attachments, events
from helpdesk.tickets.models import Message, Ticket

log = logging.getLogger(__name__)
DELIVER_JOB = "helpdesk.channels.delivery:deliver"
# How far a message got; a status callback only ever moves it forward.
DELIVERY_RANK = {"queued": 0, "sent": 1, "delivered": 2, "undelivered": 3, "failed": 3}
FINAL = ("failed", "undelivered")


def contact_for(customer: Customer, channel: str) -> str | None:
    """The customer's address for a channel (their first email or phone)."""
    kind = {"email": "email", "sms": "phone", "voice": "phone"}.get(channel)
    values = customer.values(kind) if kind else []
    return values[0] if values else None


def _unseen(ticket: Ticket, seen: int) -> list[int]:
    """Ids of customer messages on ``ticket`` newer than message ``seen``."""
    return list(
        db.session.execute(
            select(Message.id)
            .where(Message.ticket_id == ticket.id, Message.id > seen, Message.direction == "in")
            .order_by(Message.id)
            .limit(20)
        ).scalars()
    )


def reply_channels(ticket: Ticket) -> list[str]:
    """The channels an agent can answer ``ticket`` on: its own, then others the customer has."""
    found = [ticket.channel] if adapter_for(ticket.channel) is not None else []
    for channel in ("email", "sms"):
        if (
            channel not in found
            and ticket.customer is not None
            and contact_for(ticket.customer, channel)
            and adapter_for(channel) is not None
        ):
            found.append(channel)
    return found


def reply(
    ticket: Ticket,
    body: str,
    actor: Agent,
    internal: bool = False,
    seen: int | None = None,
    channel: str | None = None,
    files: list[uploads.Upload] | None = None,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    forward_to: str | None = None,
) -> Message:
    """An agent's answer on the ticket's channel (queued for delivery), or an internal note.

    ``seen``: the newest message the agent had on screen; a customer message after it
    refuses the reply (409 ``new_messages``) so that it is read first, never lost.
    ``channel``: answer on another channel the customer has an address for.
    ``files``: attached (checked, stored by hash); ``cc``/``bcc``: further recipients of
    an email reply (kept on the message); ``forward_to``: an address other than the
    customer's (a forward, composing.services). The channel's signature (the agent's and the
    mailbox's, for email) is appended to what goes out.
    """
    files = uploads.check(files or [])
    if (cc or bcc) and (internal or (channel or ticket.channel) != "email"):
        raise Invalid("cc and bcc are for email replies", fields={"cc": "email only"})
    if ticket.status == "closed" and not internal:
        raise Conflict("the ticket is closed; open a new one to write to the customer")
    if seen is not None:
        unseen = _unseen(ticket, seen)
        if unseen:
            raise Conflict(
                "the customer wrote again while you were typing: read it, then send",
                fields={"messages": unseen},
                code="new_messages",
            )
    channel = channel or ticket.channel
    recipient = None
    if forward_to:
        recipient = forward_to
    elif not internal:
        if channel == ticket.channel:
            recipient = ticket.contact
        elif channel in reply_channels(ticket):
            recipient = contact_for(ticket.customer, channel)
        else:
            raise Conflict(
                f"the customer has no {channel} address to answer on",
                fields={"channel": "not available"},
            )
    adapter = adapter_for(channel)
    refusal = adapter.refusal(ticket) if adapter is not None and not internal else None
    if refusal:
        raise Conflict(refusal)
    if adapter is not None and not internal:
        signature = adapter.signature(ticket, actor)
        if signature and signature.strip() not in body:
            body = f"{body.rstrip()}\n\n-- \n{signature.strip()}"
    now = utcnow()
    meta: dict = {}
    if cc:
        meta["cc"] = list(dict.fromkeys(cc))
    if bcc:
        meta["bcc"] = list(dict.fromkeys(bcc))
    message = Message(
        ticket_id=ticket.id,
        direction="note" if internal else "out",
        channel=channel if not internal else ticket.channel,
        author_kind="agent",
        author_id=actor.id,
        recipient=recipient,
        body_text=body,
        subject=None if internal else ticket.subject,
        status="received" if internal else "queued",
        created_at=now,
        meta=meta,
        attachments=[],
    )
    uploads.attach(message, files)
    db.session.add(message)
    ticket.message_count = (ticket.message_count or 0) + 1
    ticket.last_message_at = now
    if not internal and not forward_to:
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        if ticket.status == "new":
            events.record(ticket, "status", {"from": "new", "to": "open", "why": "replied"}, actor)
            ticket.status = "open"
        sla.agent_replied(ticket)
    db.session.flush()
    message.author = actor
    events.announce_message(message, ticket)
    if not internal:
        jobs.enqueue(DELIVER_JOB, message.id, queue_name="outbound", retries=3)
    return message


def automatic_reply(ticket: Ticket, channel: str, body: str, meta: dict) -> Message:
    """An outbound message by the system ("bot": order answers, acknowledgements), queued
    like an agent's reply by the caller, without counting as the agents' first response;
    flushes."""
    now = utcnow()
    message = Message(
        ticket_id=ticket.id,
        direction="out",
        channel=channel,
        author_kind="bot",
        author_id=None,
        recipient=ticket.contact,
        body_text=body,
        subject=ticket.subject,
        status="queued",
        created_at=now,
        meta=meta,
    )
    db.session.add(message)
    ticket.message_count = (ticket.message_count or 0) + 1
    ticket.last_message_at = now
    db.session.flush()
    return message


def delivery_status(
    message: Message, status: str, error: str | None = None, meta: dict | None = None
) -> bool:
    """A channel reports how far ``message`` got: move its status forward only (a late or
    repeated report changes nothing), keep the channel's ``meta`` and the ``error`` of a
    failure, tell the agents; flushes. Whether anything changed."""
    changed = meta is not None and meta != {k: message.meta.get(k) for k in meta}
    if meta is not None:
        message.meta = {**(message.meta or {}), **meta}
    forward = DELIVERY_RANK.get(status, 0) > DELIVERY_RANK.get(message.status, 0)
    if message.status not in FINAL and (status in FINAL or forward):
        message.status = status
        if error:
            message.error = error[:2000]
        changed = True
    if changed:
        db.session.flush()
        events.announce_message_status(message, _ticket_of(message))
    return changed


def mark_undelivered(channel: str, external_ids: list[str], reason: str, report: Message) -> int:
    """A delivery report (a bounce) names our messages ``external_ids`` on ``channel`` as
    not delivered: mark them, with the reason and the report; flushes. How many changed."""
    if not external_ids:
        return 0
    outbound = db.session.execute(
        select(Message).where(
            Message.channel == channel,
            Message.direction == "out",
            Message.external_id.in_(external_ids),
        )
    ).scalars()
    changed = 0
    for message in outbound:
        if message.status == "undelivered":
            continue  # a second report of the same bounce
        message.status = "undelivered"
        message.error = reason[:2000]
        message.meta = {**(message.meta or {}), "bounce_message_id": report.id}
        events.announce_message_status(message, _ticket_of(message))
        changed += 1
    db.session.flush()
    return changed


def sms_opt_out(customer: Customer, opted_out: bool, why: str, ticket: Ticket | None) -> bool:
    """The customer asked (or the carrier told us) not to be texted, or to be texted again:
    set it, with an audit entry on the ticket it came with; flushes. Whether it changed."""
    if not consents.sms_opt_out(customer, opted_out, why):
        return False
    if ticket is not None:
        events.record(ticket, "sms_opt_out" if opted_out else "sms_opt_in", {"why": why})
    db.session.flush()
    return True


def media_fetched(
    message_id: int, fetched: dict[int, tuple[bytes, str | None]], problems: list[str]
) -> None:
    """The media a message only pointed at (MMS, a voicemail recording) were downloaded:
    store each fetched ``(content, content type)`` by attachment id, flag the message for
    review with the ``problems`` of the others, tell the agents; flushes."""
    message = db.session.get(Message, message_id)
    if message is None:
        return  # erased meanwhile
    for attachment in message.attachments:
        if attachment.id in fetched and attachment.sha256 is None:
            content, content_type = fetched[attachment.id]
            attachment.sha256 = attachments.store(content)
            attachment.size = len(content)
            if content_type and attachment.content_type == "application/octet-stream":
                attachment.content_type = content_type.split(";")[0][:255]
    if problems:
        log.warning("message %s: %s", message_id, "; ".join(problems))
        message.needs_review = True
        message.review_reason = "; ".join(filter(None, [message.review_reason, *problems]))
    db.session.flush()
    events.announce_message_status(message, _ticket_of(message))


def _ticket_of(message: Message) -> Ticket:
    """The ticket of a stored message (a non-null foreign key)."""
    ticket = db.session.get(Ticket, message.ticket_id)
    assert ticket is not None
    return ticket
