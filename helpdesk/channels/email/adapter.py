"""Agents' replies out by SMTP: threaded, tokened, in text and HTML, with attachments.

``deliver`` (tickets/tasks.py) calls ``EmailAdapter.send`` on the ``outbound``
queue. The Message-ID is derived from the message id and an HMAC of the
secret key: a retry after an unrecorded success sends the same Message-ID (the
customer's mail program folds the two), and nobody outside can forge a
reference that would thread their mail onto another customer's ticket.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from flask import current_app
from sqlalchemy import select

from helpdesk.channels.base import ChannelAdapter, DeliveryError
from helpdesk.channels.email.mailboxes import (
    EMAIL,
    SECRET_KEYS,
    Server,
    mailbox_for,
    server,
    smtp_login,
)
from helpdesk.channels.oauth.providers import OAuthError
from helpdesk.channels.oauth.tokens import access_token, is_oauth
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets import attachments
from helpdesk.tickets.models import Message, MessageSource

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 30
MAX_REFERENCES = 20
_SYNTHETIC = "@no-message-id.invalid>"  # stand-ins for a missing Message-ID: never sent
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|vs)\s*:", re.IGNORECASE)


def message_id_for(message: Message, address: str) -> str:
    """Our Message-ID for an outbound message: stable per message, unguessable."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"email-out:{message.id}".encode(), hashlib.sha256).hexdigest()[:20]
    domain = address.rpartition("@")[2] or "helpdesk.invalid"
    return f"<hd.{message.id}.{digest}@{domain}>"


def thread_headers(message: Message) -> tuple[str | None, list[str]]:
    """In-Reply-To and References from the ticket's stored and sent messages."""
    earlier = (
        db.session.execute(
            select(Message)
            .where(
                Message.ticket_id == message.ticket_id,
                Message.channel == EMAIL,
                Message.id < message.id,
                Message.external_id.is_not(None),
                Message.direction.in_(("in", "out")),
            )
            .order_by(Message.id)
        )
        .scalars()
        .all()
    )
    # (external_id: the query takes only messages that have one)
    earlier = [m for m in earlier if not m.external_id.endswith(_SYNTHETIC)]  # type: ignore[union-attr]
    if not earlier:
        return None, []
    inbound = [m for m in earlier if m.direction == "in" and not m.is_auto]
    parent = inbound[-1] if inbound else earlier[-1]
    chain = [
        ref for ref in (parent.meta or {}).get("references") or [] if not ref.endswith(_SYNTHETIC)
    ]
    chain.append(parent.external_id)
    if earlier[0].external_id not in chain:
        chain.insert(0, earlier[0].external_id)  # the thread's root keeps the thread whole
    chain = list(dict.fromkeys(chain))
    if len(chain) > MAX_REFERENCES:
        chain = chain[:1] + chain[-(MAX_REFERENCES - 1) :]
    return parent.external_id, chain


def subject_for(ticket, answering: bool = True) -> str:
    """``Re: <subject> [#number]``: the token threads the customer's answer back. Not
    ``answering`` (a mail the desk starts, e.g. an order update), no ``Re:``."""
    subject = (ticket.subject or "").strip()
    if answering and not _REPLY_PREFIX.match(subject):
        subject = f"Re: {subject}"
    token = f"[#{ticket.number}]"
    return subject if token in subject else f"{subject} {token}"


def _html(text: str) -> str:
    """The reply as simple HTML: escaped, paragraphs and line breaks kept."""
    paragraphs = [p for p in (text or "").replace("\r\n", "\n").split("\n\n")]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!DOCTYPE html><html><body><div dir="auto">{body}</div></body></html>'


def build(message: Message, ticket, mailbox, recipient: str) -> EmailMessage:
    """The MIME message of an agent's reply."""
    mime = EmailMessage(policy=policy.SMTP)
    sender_name = (
        (mailbox.settings or {}).get("from_name")
        or (ticket.team.name if ticket.team else None)
        or mailbox.name
    )
    mime["From"] = formataddr((sender_name, mailbox.address))
    customer = ticket.customer.name if ticket.customer is not None else None
    forwarded = (message.meta or {}).get("forward_of")
    mime["To"] = formataddr(("" if forwarded else customer or "", recipient))
    if (message.meta or {}).get("cc"):
        mime["Cc"] = ", ".join(message.meta["cc"])
    # Re: when the customer wrote on this ticket before (any channel), not when we start it.
    answering = (
        db.session.execute(
            select(Message.id)
            .where(
                Message.ticket_id == message.ticket_id,
                Message.direction == "in",
                Message.id < message.id,
            )
            .limit(1)
        ).first()
        is not None
    )
    mime["Subject"] = (
        f"Fwd: {subject_for(ticket, False)}" if forwarded else subject_for(ticket, answering)
    )
    mime["Date"] = format_datetime(utcnow())
    mime["Message-ID"] = message_id_for(message, mailbox.address)
    parent, references = (None, []) if forwarded else thread_headers(message)
    if parent:
        mime["In-Reply-To"] = parent
        mime["References"] = " ".join(references)
    mime["X-Helpdesk-Ticket"] = str(ticket.number)
    if message.author_kind == "bot":  # acknowledgements, the order bot: RFC 3834
        mime["Auto-Submitted"] = "auto-replied"
    mime.set_content(message.body_text or "")
    mime.add_alternative(_html(message.body_text or ""), subtype="html")
    for item in message.attachments:
        if not item.sha256:
            continue
        maintype, _, subtype = (item.content_type or "application/octet-stream").partition("/")
        mime.add_attachment(
            attachments.load(item.sha256),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=item.filename,
        )
    return mime


def _text(answer) -> str:
    """An SMTP server's answer as text."""
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)


def envelope(message: Message, recipient: str) -> list[str]:
    """Everyone the mail goes to: the recipient, then Cc and Bcc (Bcc is in no header)."""
    meta = message.meta or {}
    return list(dict.fromkeys([recipient, *meta.get("cc", []), *meta.get("bcc", [])]))


@contextmanager
def smtp_session(smtp: Server, timeout: float) -> Iterator[smtplib.SMTP]:
    """A connection to an SMTP server, secured as set (TLS or STARTTLS) and logged in
    (``smtp_login``); closed on leaving. Sending and the settings' connection test."""
    connection: smtplib.SMTP
    if smtp.tls:
        connection = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    with connection:
        connection.ehlo()
        if smtp.starttls:
            connection.starttls(context=ssl.create_default_context())
            connection.ehlo()
        smtp_login(connection, smtp)
        yield connection


def smtp_send(mailbox, mime: EmailMessage, recipient: str | list[str]) -> None:
    """Hand the message to the mailbox's SMTP server; DeliveryError says whether to retry."""
    if is_oauth(mailbox):
        try:
            access_token(mailbox)  # refreshed when due, before server() reads it
        except OAuthError as exc:
            raise DeliveryError(f"mailbox {mailbox.name}: {exc}") from exc
    smtp = server(mailbox, "smtp")
    try:
        with smtp_session(smtp, SMTP_TIMEOUT) as connection:
            to = [recipient] if isinstance(recipient, str) else recipient
            connection.send_message(mime, from_addr=mailbox.address, to_addrs=to)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        reason = "; ".join(f"{code} {_text(text)}" for code, text in exc.recipients.values())
        raise DeliveryError(
            f"the SMTP server refused {recipient}: {reason}",
            permanent=all(code >= 500 for code in codes),
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"the SMTP server answered {exc.smtp_code} {_text(exc.smtp_error)}",
            permanent=exc.smtp_code >= 500 and exc.smtp_code != 535,
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"SMTP server {smtp.host}:{smtp.port} unreachable: {type(exc).__name__}: {exc}"
        ) from exc


class EmailAdapter(ChannelAdapter):
    """Replies on the email channel go out through the ticket's mailbox."""

    kind = EMAIL
    settings = ("imap", "smtp", "from_name")
    secret_settings = SECRET_KEYS

    def send(self, message, ticket) -> str:
        """Send an agent's reply by SMTP; return its Message-ID (the message's external id)."""
        mailbox = mailbox_for(ticket)
        if mailbox is None:
            raise DeliveryError(
                "no mailbox is set up to send email from (helpdesk mailbox add ...)", permanent=True
            )
        recipient = message.recipient or ticket.contact
        if not recipient:
            raise DeliveryError("the ticket has no customer email address", permanent=True)
        mime = build(message, ticket, mailbox, recipient)
        smtp_send(mailbox, mime, envelope(message, recipient))
        # The sent bytes are kept like an inbound mail's (merge: a retry replaces them).
        db.session.merge(MessageSource(message_id=message.id, raw=mime.as_bytes()))
        log.info(
            "reply %s on ticket %s sent through mailbox %s", message.id, ticket.id, mailbox.name
        )
        return mime["Message-ID"]

    def signature(self, ticket, agent) -> str | None:
        """The agent's own signature, then the mailbox's (either may be unset)."""
        mailbox = mailbox_for(ticket)
        parts = [
            getattr(agent, "signature", None),
            (mailbox.settings or {}).get("signature") if mailbox is not None else None,
        ]
        return "\n".join(p.strip() for p in parts if p and p.strip()) or None
