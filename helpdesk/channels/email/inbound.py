"""One fetched mail into the ingest pipeline: parse, drop our own, ingest, then bounces.

Whatever arrives is stored: a mail the parser cannot read is stored raw on a
ticket flagged for a person, with the reason. A bounce of one of our replies
lands on its ticket as an automatic message and marks that reply undelivered.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select

from helpdesk.channels.email.headers import decode_bytes, header_digest_id
from helpdesk.channels.email.mailboxes import EMAIL, our_addresses
from helpdesk.channels.email.parse import ParsedMail, UnparseableMail, parse
from helpdesk.channels.inbound import InboundMessage
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from helpdesk.tickets.ingest import ingest
from helpdesk.tickets.models import Message, MessageSource

log = logging.getLogger(__name__)
MAX_RAW_TEXT = 200_000
_RAW_FROM = re.compile(rb"(?im)^from:[ \t]*(.{0,300})$")
_RAW_SUBJECT = re.compile(rb"(?im)^subject:[ \t]*(.{0,300})$")
_RAW_ADDRESS = re.compile(r"[\w.+'-]{1,64}@[\w-]{1,63}(\.[\w-]{1,63})+")
_RAW_MSGID = re.compile(rb"(?im)^message-id:[ \t]*(<[^<>\s]{1,490}>)")


@dataclass(frozen=True)
class Mailbox:
    """What receiving needs of a mailbox, detached from the session (no reloads per mail)."""

    id: int
    name: str
    address: str

    @classmethod
    def of(cls, channel: Channel) -> Mailbox:
        """The mailbox of a Channel row."""
        return cls(channel.id, channel.name, channel.address)


@dataclass
class Receipt:
    """What became of one mail: ``stored``, ``duplicate`` or ``own`` (from our address)."""

    outcome: str
    message_id: int | None = None
    ticket_id: int | None = None


def _meta(mail: ParsedMail) -> dict[str, Any]:
    """What the ticket keeps about the mail besides its text (JSON)."""
    email: dict[str, Any] = {
        "to": mail.to[:50],
        "cc": mail.cc[:50],
        "reply_to": mail.reply_to,
        "date": mail.date.isoformat() if mail.date else None,
        "message_id_missing": mail.message_id_missing or None,
        "auto": mail.auto,
        "forwarded": mail.forwarded or None,
    }
    if mail.bounce is not None:
        email["bounce"] = {
            "original": mail.bounce.original_ids[:10],
            "recipients": mail.bounce.recipients[:10],
            "reason": mail.bounce.reason,
            "failed": mail.bounce.failed,
        }
    meta: dict[str, Any] = {"email": {k: v for k, v in email.items() if v is not None}}
    if mail.reply_text is not None:
        meta["reply_text"] = mail.reply_text  # the part to show first; body_text has it all
    return meta


def inbound_from(mail: ParsedMail, raw: bytes, channel: Mailbox | Channel) -> InboundMessage:
    """The channel-neutral message ``ingest`` takes, from a parsed mail."""
    references = mail.references + [i for i in mail.in_reply_to if i not in mail.references]
    bounced = mail.bounce is not None and mail.bounce.failed
    if mail.bounce is not None:
        references += [i for i in mail.bounce.original_ids if i not in references]
    return InboundMessage(
        channel=EMAIL,
        sender_kind="email",
        sender=mail.sender or "",
        sender_name=mail.sender_name,
        text=mail.text,
        html=mail.html,
        subject=mail.subject,
        recipient=channel.address,
        external_id=mail.message_id,
        channel_id=channel.id,
        references=references,
        ticket_number=mail.ticket_number,
        attachments=mail.attachments,
        raw=raw,
        is_auto=mail.auto is not None,
        meta=_meta(mail),
        undelivered=list(mail.bounce.original_ids) if bounced and mail.bounce else [],
        undelivered_reason=f"bounced: {mail.bounce.reason}" if bounced and mail.bounce else "",
    )


def unreadable(raw: bytes, channel: Mailbox | Channel, reason: str) -> InboundMessage:
    """A mail that could not be parsed, stored raw for a person to look at."""
    head = raw[:65536]
    sender = _RAW_FROM.search(head)
    address = _RAW_ADDRESS.search(decode_bytes(sender.group(1))) if sender else None
    subject = _RAW_SUBJECT.search(head)
    message_id = _RAW_MSGID.search(head)
    return InboundMessage(
        channel=EMAIL,
        sender_kind="email",
        sender=address.group(0) if address else "",
        text=decode_bytes(raw[:MAX_RAW_TEXT]),
        subject=decode_bytes(subject.group(1)).strip() if subject else "(unreadable mail)",
        recipient=channel.address,
        channel_id=channel.id,
        raw=raw,
        external_id=message_id.group(1).decode("ascii", "replace")
        if message_id
        else header_digest_id(raw),
        review_reason=f"the mail could not be parsed: {reason}"[:1000],
    )


def receive(
    channel: Mailbox | Channel, raw: bytes, timings: dict | None = None, own: set[str] | None = None
) -> Receipt:
    """Parse one raw mail and ingest it (committed); a retry of the same mail changes nothing.

    ``own`` is the set of our support addresses (looked up when not given).
    """
    started = time.perf_counter()
    try:
        mail = parse(raw)
        inbound = inbound_from(mail, raw, channel)
    except UnparseableMail as exc:
        mail, inbound = None, unreadable(raw, channel, str(exc))
    except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the mail
        log.exception("mail on %s could not be parsed", channel.name)
        mail, inbound = None, unreadable(raw, channel, f"{type(exc).__name__}: {exc}")
    parsed = time.perf_counter()
    if timings is not None:
        timings["parse"] = timings.get("parse", 0.0) + parsed - started
    if inbound.sender and inbound.sender.lower() in (our_addresses() if own is None else own):
        log.info(
            "mail %s on %s is from our own address: not ingested", inbound.external_id, channel.name
        )
        return Receipt("own")
    result = ingest(inbound)
    if result.duplicate and inbound.external_id and not _same_mail(result.message, raw):
        # Another mail under a Message-ID we have (a broken mailer reuses them):
        # keep it too, under an id of its own, instead of dropping it as a retry.
        inbound.external_id = f"{inbound.external_id[:-1][:400]}.{fingerprint(raw)[:16]}>"
        result = ingest(inbound)
    if timings is not None:
        timings["ingest"] = timings.get("ingest", 0.0) + time.perf_counter() - parsed
    return Receipt(
        "duplicate" if result.duplicate else "stored", _id(result.message), _id(result.ticket)
    )


def _id(row) -> int | None:
    """A committed row's id without reloading the expired row (a query per mail saved)."""
    identity = inspect(row).identity
    return identity[0] if identity else None


def fingerprint(raw: bytes) -> str:
    """A digest of what makes a mail this mail: sender, subject and body, not the
    delivery headers (a copy delivered to two of our mailboxes has the same one)."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    wanted = [
        line
        for line in head.split(b"\n")
        if line[:5].lower() == b"from:" or line[:8].lower() == b"subject:"
    ]
    return hashlib.sha256(b"\n".join(wanted) + b"\n\n" + body.strip()).hexdigest()


def _same_mail(message: Message, raw: bytes) -> bool:
    """Whether the stored message came from (a copy of) these bytes."""
    stored = db.session.execute(
        select(MessageSource.raw).where(MessageSource.message_id == message.id)
    ).scalar_one_or_none()
    return stored is None or fingerprint(stored) == fingerprint(raw)
