"""Auto-acknowledgement: a new email ticket gets a short "we have it, it is #N" answer.

Per mailbox (``Channel.settings["auto_ack"]``, off by default; the text in
``settings["auto_ack_text"]``, else ``DEFAULT_TEXT``; ``helpdesk mailbox add
--auto-ack --auto-ack-text ...``). A follow-up of ingest: ``wanted`` picks, in memory
and without a query, the customer mail that opened a ticket through such a mailbox;
the job ``acknowledge`` then, under a row lock on the ticket, checks everything again
and stores an outbound message with the author "bot", delivered through
``tickets.tasks:deliver`` on the ``outbound`` queue like an agent's reply (the same
way the order bot answers, ``bot._send``); the mail's subject carries ``[#number]``.

Never to auto-replies, bounces or mailing lists (``message.is_auto``, and ingest
runs no follow-ups for those), never for a mail that continues an existing ticket,
never twice for one ticket (a ``TicketEvent`` "auto_ack" is the mark), never to our
own support addresses or to robots' addresses (``no-reply@``, ``mailer-daemon@``).

The text is plain, and only the named placeholders are filled: ``{ticket_number}``,
``{subject}``, ``{customer_name}``, ``{mailbox}`` (``$ticket_number`` and
``${ticket_number}`` work too); anything else stays as written.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from flask_babel import force_locale, lazy_gettext
from sqlalchemy import exists, select

from helpdesk import i18n, jobs, unit_of_work
from helpdesk.channels.models import Channel
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets import events
from helpdesk.tickets.models import Message, Ticket, TicketEvent

log = logging.getLogger(__name__)
JOB = "helpdesk.automation.autoack:acknowledge"
KIND = "auto_ack"  # the TicketEvent that marks an acknowledged ticket
MAX_TEXT = 5000
FRESH = timedelta(minutes=5)  # older at ingest: stored backdated (an import), not arriving now
# In the customer's language (read inside force_locale: the catalogue has its German).
DEFAULT_TEXT = lazy_gettext(
    "Hello {customer_name},\n\n"
    "thank you for your message. We have received it and opened ticket "
    "#{ticket_number} ({subject}).\n\n"
    "We will answer as soon as we can. If you want to add anything, simply reply to "
    "this email and keep [#{ticket_number}] in the subject.\n\n"
    "This is an automatic acknowledgement."
)
_PLACEHOLDER = re.compile(r"\$\$|\$\{(\w+)\}|\$(\w+)|\{(\w+)\}")
_ROBOTS = re.compile(
    r"^(no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?)([+.-]|@)", re.I
)


def render(template: str, values: dict[str, object]) -> str:
    """Fill the named placeholders with plain one-line values; nothing else is reachable
    (no attribute access, no formatting specs), unknown names stay as written."""
    clean = {k: " ".join(str(v if v is not None else "").split())[:300] for k, v in values.items()}

    def fill(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2) or match.group(3)
        return clean[name] if name in clean else match.group(0)

    return _PLACEHOLDER.sub(fill, template[:MAX_TEXT])


def settings_of(channel: Channel | None) -> tuple[bool, str]:
    """Whether the mailbox acknowledges new tickets, and with which text."""
    settings = (channel.settings if channel is not None else None) or {}
    text = settings.get("auto_ack_text")
    return bool(settings.get("auto_ack")), (
        text if isinstance(text, str) and text.strip() else str(DEFAULT_TEXT)
    )


def wanted(message: Message) -> bool:
    """A fresh customer mail that opened a ticket through a mailbox with auto_ack on (no
    query: right after ingest the ticket and the channel are in the session)."""
    if (
        message.channel != "email"
        or message.direction != "in"
        or message.is_auto
        or message.author_kind != "customer"
    ):
        return False
    ticket = db.session.get(Ticket, message.ticket_id)
    if (
        ticket is None
        or ticket.channel != "email"
        or ticket.channel_id is None
        or (ticket.message_count or 0) > 1
        or ticket.created_at != message.created_at
    ):
        return False  # the mail continues a ticket (or was added to one by hand)
    if utcnow() - (message.created_at or utcnow()) > FRESH:
        return False
    return settings_of(db.session.get(Channel, ticket.channel_id))[0]


def _why_not(message: Message, ticket: Ticket, channel: Channel | None) -> str | None:
    """Why no acknowledgement may go out for ``message``, or None."""
    from helpdesk.channels.email.mailboxes import our_addresses

    if (
        message.direction != "in"
        or message.is_auto
        or message.author_kind != "customer"
        or message.channel != "email"
    ):
        return "not a customer's mail"
    if ((message.meta or {}).get("email") or {}).get("auto"):
        return "an automatic mail"
    if ticket.channel_id is None or channel is None or channel.kind != "email":
        return "no mailbox"
    if not settings_of(channel)[0]:
        return "auto-acknowledgement is off for the mailbox"
    if ticket.status == "closed":
        return "the ticket is closed"
    first = db.session.execute(
        select(Message.id).where(Message.ticket_id == ticket.id).order_by(Message.id).limit(1)
    ).scalar()
    if first != message.id:
        return "the mail continues a ticket"
    if db.session.execute(
        select(exists().where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == KIND))
    ).scalar():
        return "acknowledged already"
    recipient = (ticket.contact or "").lower()
    if not recipient or "@" not in recipient:
        return "no address to answer"
    if recipient in our_addresses():
        return "our own address"
    if _ROBOTS.match(recipient):
        return "a robot's address"
    return None


def acknowledge(message_id: int) -> None:
    """Job: acknowledge the ticket that mail ``message_id`` opened (once, whatever happens)."""
    with unit_of_work.write_phase():
        message = db.session.get(Message, message_id)
        if message is None:
            db.session.rollback()
            return
        # Lock the ticket: a second run of this job waits here, then finds the mark.
        ticket = (
            db.session.execute(
                select(Ticket)
                .where(Ticket.id == message.ticket_id)
                .with_for_update(of=Ticket)
                .execution_options(populate_existing=True)
            )
            .unique()
            .scalar_one_or_none()
        )
        channel = (
            db.session.get(Channel, ticket.channel_id)
            if ticket is not None and ticket.channel_id
            else None
        )
        reason = "no ticket" if ticket is None else _why_not(message, ticket, channel)
        if reason is not None:
            db.session.rollback()
            log.info("no auto-acknowledgement for message %s: %s", message_id, reason)
            return
        assert ticket is not None and channel is not None  # (else a reason above)
        customer = ticket.customer
        with force_locale(i18n.customer_language(customer)):
            template = settings_of(channel)[1]
        text = render(
            template,
            {
                "ticket_number": ticket.number,
                "subject": ticket.subject,
                "customer_name": (customer.name if customer is not None else None) or "",
                "mailbox": channel.name,
            },
        )
        reply = _send(ticket, message, text)
        events.record(ticket, KIND, {"message": message.id, "reply": reply.id})
        events.announce_message(reply, ticket)
        jobs.enqueue(
            "helpdesk.channels.delivery:deliver", reply.id, queue_name="outbound", retries=3
        )
        unit_of_work.commit()
    log.info("ticket %s acknowledged (message %s)", ticket.id, reply.id)


def _send(ticket: Ticket, mail: Message, body: str) -> Message:
    """The acknowledgement as an outbound email, queued like the order bot's answers."""
    from helpdesk.tickets.replies import automatic_reply

    return automatic_reply(ticket, "email", body, {"auto_ack": {"in_reply_to": mail.id}})
