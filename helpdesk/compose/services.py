"""Start a conversation, forward a message, keep an agent's signature; each flushes, the
caller commits once and the delivery job runs after."""

from __future__ import annotations

import logging

from sqlalchemy import select

from helpdesk.agents import access
from helpdesk.agents.models import Agent
from helpdesk.channels.models import Channel
from helpdesk.customers.identities import InvalidIdentity, normalise_email, normalise_phone
from helpdesk.customers.models import Customer
from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.files import uploads
from helpdesk.tickets import events, replies
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Message, Ticket

log = logging.getLogger(__name__)
# The channel a conversation is started on, and the kind of channel it is sent through.
SENDERS = {"email": "email", "sms": "phone"}
IDENTITY = {"email": "email", "sms": "phone"}
MAX_SIGNATURE = 2000


def senders(channel: str) -> list[Channel]:
    """The active mailboxes (email) or phone numbers (sms) a conversation can start from."""
    return list(
        db.session.execute(
            select(Channel)
            .where(Channel.kind == SENDERS[channel], Channel.active.is_(True))
            .order_by(Channel.name)
        )
        .unique()
        .scalars()
    )


def _sender(channel: str, sender_id: int | None) -> Channel | None:
    """The chosen mailbox or number (422 for any other id); None: the default one."""
    if sender_id is None:
        return None
    found = db.session.get(Channel, sender_id)
    if found is None or found.kind != SENDERS[channel] or not found.active:
        raise Invalid("no such mailbox or number", fields={"via": "unknown id"})
    return found


def _recipient(customer: Customer, channel: str, to: str | None) -> str:
    """The customer's address to write to: ``to`` when it is one of theirs, else their
    first one (422 when they have none)."""
    held = customer.values(IDENTITY[channel])
    if to:
        try:
            wanted = normalise_email(to) if channel == "email" else normalise_phone(to)
        except InvalidIdentity as exc:
            raise Invalid(str(exc), fields={"to": "invalid"}) from exc
        if wanted not in held:
            raise Invalid("that address is not the customer's", fields={"to": "not theirs"})
        return wanted
    if not held:
        what = "email address" if channel == "email" else "phone number"
        raise Invalid(f"the customer has no {what}", fields={"to": "missing"})
    return held[0]


def start(
    actor: Agent,
    customer_id: int,
    channel: str,
    subject: str,
    body: str,
    via: int | None = None,
    to: str | None = None,
    files: list[uploads.Upload] | None = None,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
) -> tuple[Ticket, Message]:
    """A new outbound conversation: a ticket for the customer on ``channel`` (email or
    sms) through the mailbox or number ``via``, assigned to the agent, and its first
    message queued like a reply; flushes."""
    customer = db.session.get(Customer, customer_id)
    if customer is None or not access.can_see_customer(actor, customer):
        raise Invalid("no such customer", fields={"customer": "unknown id"})
    sender = _sender(channel, via)
    address = _recipient(customer, channel, to)
    team = sender.team_id if sender is not None else None
    if team is not None and not (actor.is_admin or team in actor.team_ids):
        team = None  # another team's mailbox: the ticket stays the agent's own
    ticket = tickets.open_ticket(
        {
            "customer": customer.id,
            "subject": subject,
            "channel": channel,
            "team": team,
            "assignee": actor.id,
        },
        actor,
    )
    ticket.contact = address
    if sender is not None:
        ticket.channel_id = sender.id
    db.session.flush()
    message = replies.reply(ticket, body, actor, files=files, cc=cc, bcc=bcc)
    log.info("agent %s started ticket %s on %s", actor.id, ticket.id, channel)
    return ticket, message


def forward(actor: Agent, message: Message, to: str, note: str = "") -> Message:
    """Send ``message`` (its text and files) by email to ``to``, from the ticket's
    mailbox, as an outbound message on the same ticket; flushes."""
    ticket = message.ticket
    if not access.can_see_ticket(actor, ticket):
        raise NotFound("no such message")  # the same answer as for an id that does not exist
    if message.direction == "note":
        raise Invalid("internal notes are not forwarded", fields={"message": "internal"})
    try:
        address = normalise_email(to)
    except InvalidIdentity as exc:
        raise Invalid(str(exc), fields={"to": "invalid"}) from exc
    who = message.sender or (message.author.name if message.author else message.author_kind)
    quoted = (
        "---------- Forwarded message ----------\n"
        f"From: {who}\nDate: {message.created_at:%Y-%m-%d %H:%M} UTC\n"
        f"Subject: {message.subject or ticket.subject}\n\n{message.body_text or ''}"
    )
    body = f"{note.strip()}\n\n{quoted}" if note.strip() else quoted
    sent = replies.reply(ticket, body, actor, channel="email", forward_to=address)
    uploads.copy(list(message.attachments), sent)
    sent.meta = {**(sent.meta or {}), "forward_of": message.id}
    events.record(ticket, "forwarded", {"message": message.id, "to": address}, actor)
    db.session.flush()
    return sent


def set_signature(agent: Agent, text: str | None) -> Agent:
    """The agent's own signature (empty: none); flushes."""
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_SIGNATURE or "\x00" in text:
        raise Invalid(
            f"the signature is at most {MAX_SIGNATURE} characters", fields={"signature": "long"}
        )
    agent.signature = text or None
    db.session.flush()
    return agent
