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
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

from flask import current_app
from sqlalchemy import inspect, select

from helpdesk.channels.email.headers import (
    decode_bytes,
    header_digest_id,
    header_text,
    message_ids,
    raw_header,
    sender_of,
)
from helpdesk.channels.email.mailboxes import EMAIL, our_addresses
from helpdesk.channels.email.parse import ParsedMail, UnparseableMail, parse
from helpdesk.channels.inbound import InboundMessage
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from helpdesk.tickets.ingest import IngestResult, ingest
from helpdesk.tickets.ingest.batch import ingest_many
from helpdesk.tickets.models import Message, MessageSource

log = logging.getLogger(__name__)
MAX_RAW_TEXT = 200_000
_RAW_FROM = re.compile(rb"(?im)^from:[ \t]*(.{0,300})$")
_RAW_SUBJECT = re.compile(rb"(?im)^subject:[ \t]*(.{0,300})$")
_RAW_ADDRESS = re.compile(r"[\w.+'-]{1,64}@[\w-]{1,63}(\.[\w-]{1,63})+")
_RAW_MSGID = re.compile(rb"(?im)^message-id:[ \t]*(<[^<>\s]{1,490}>)")
_HEADERS = BytesParser(policy=policy.default)
_BOUNDARY = re.compile(rb'(?i)boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')
_DELIMITER = re.compile(rb"(?m)^--([^\r\n]{1,200}?)[ \t]*\r?$")
HEAD_BYTES = 256 * 1024  # what is kept of a mail over the size limit


def limits() -> tuple[int, int]:
    """The largest mail (bytes) and the most MIME parts read: HELPDESK_MAIL_MAX_BYTES,
    HELPDESK_MAIL_MAX_PARTS."""
    config = current_app.config
    return int(config["MAIL_MAX_BYTES"]), int(config["MAIL_MAX_PARTS"])


def part_count(raw: bytes) -> int:
    """How many MIME parts ``raw`` opens, counted on its boundary lines without parsing."""
    boundaries = {b or c for b, c in _BOUNDARY.findall(raw)}
    if not boundaries:
        return 1
    return sum(1 for token in _DELIMITER.findall(raw) if token in boundaries)


def over_limits(raw: bytes, bounds: tuple[int, int] | None = None) -> str | None:
    """Why ``raw`` is too large to parse, or None (``bounds``: ``limits()`` when given)."""
    max_bytes, max_parts = bounds or limits()
    if len(raw) > max_bytes:
        return f"the mail is {len(raw)} bytes, over the limit of {max_bytes}"
    parts = part_count(raw)
    if parts > max_parts:
        return f"the mail has {parts} MIME parts, over the limit of {max_parts}"
    return None


@dataclass(frozen=True)
class Mailbox:
    """What receiving needs of a mailbox, detached from the session (no reloads per mail)."""

    id: int
    name: str
    address: str
    list_domains: tuple[str, ...] = ()

    @classmethod
    def of(cls, channel: Channel) -> Mailbox:
        """The mailbox of a Channel row."""
        domains = (channel.settings or {}).get("list_domains") or ()
        return cls(channel.id, channel.name, channel.address, tuple(domains))


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


def _list_domains(channel: Mailbox | Channel) -> tuple[str, ...]:
    """The mailbox's mailing-list domains (X-Original-Sender believed from them)."""
    if isinstance(channel, Mailbox):
        return channel.list_domains
    return tuple((channel.settings or {}).get("list_domains") or ())


def unreadable(
    raw: bytes,
    channel: Mailbox | Channel,
    reason: str,
    kept: bytes | None = None,
    prefix: str = "the mail could not be parsed",
) -> InboundMessage:
    """A mail that could not be parsed (or is too large to), stored raw for a person to
    look at: sender, subject and Message-ID from its header block when it has one.
    ``kept``: the bytes stored when not all of ``raw`` is (the head of a large mail)."""
    head = raw[:65536]
    sender_name, sender, subject, external_id = None, "", "", None
    try:
        msg = _HEADERS.parsebytes(head, headersonly=True)
        sender_name, sender = sender_of(msg, None, _list_domains(channel))
        subject = header_text(raw_header(msg, "Subject"))
        external_id = next(iter(message_ids(raw_header(msg, "Message-ID"))), None)
    except Exception:  # noqa: BLE001 - not even a header block: the patterns below
        pass
    if not sender:
        found = _RAW_FROM.search(head)
        address = _RAW_ADDRESS.search(decode_bytes(found.group(1))) if found else None
        sender = address.group(0) if address else ""
    if not subject:
        found = _RAW_SUBJECT.search(head)
        subject = decode_bytes(found.group(1)).strip() if found else ""
    if external_id is None:
        found = _RAW_MSGID.search(head)
        external_id = found.group(1).decode("ascii", "replace") if found else header_digest_id(raw)
    stored = raw if kept is None else kept
    return InboundMessage(
        channel=EMAIL,
        sender_kind="email",
        sender=sender,
        sender_name=sender_name,
        text=decode_bytes(stored[:MAX_RAW_TEXT]),
        subject=subject or "(unreadable mail)",
        recipient=channel.address,
        channel_id=channel.id,
        raw=stored,
        external_id=external_id,
        review_reason=f"{prefix}: {reason}"[:1000],
    )


def too_large(head: bytes, size: int, channel: Mailbox | Channel) -> InboundMessage:
    """A mail over HELPDESK_MAIL_MAX_BYTES of which only ``head`` (its first bytes) was
    fetched: stored as that head, flagged; the whole mail stays on the server."""
    reason = (
        f"the mail is {size} bytes, over the limit of {limits()[0]}; only its first "
        f"{min(len(head), size)} bytes are kept here, the whole mail stays in the mailbox"
    )
    return unreadable(head, channel, reason, prefix="the mail was not read")


def read_mail(
    raw: bytes, channel: Mailbox | Channel, bounds: tuple[int, int] | None = None
) -> InboundMessage:
    """The message ``raw`` makes: parsed, or stored raw and flagged when it is over the
    limits or cannot be parsed. ``bounds``: ``limits()``, given where there is no app
    (a worker process of ``email.reader``)."""
    bounds = bounds or limits()
    limit = over_limits(raw, bounds)
    if limit is not None:
        kept = raw[:HEAD_BYTES] if len(raw) > bounds[0] else None
        return unreadable(raw, channel, limit, kept, prefix="the mail was not read")
    try:
        return inbound_from(parse(raw, _list_domains(channel)), raw, channel)
    except UnparseableMail as exc:
        return unreadable(raw, channel, str(exc))
    except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the mail
        log.exception("mail on %s could not be parsed", channel.name)
        return unreadable(raw, channel, f"{type(exc).__name__}: {exc}")


def receive(
    channel: Mailbox | Channel,
    raw: bytes,
    timings: dict | None = None,
    own: set[str] | None = None,
    inbound: InboundMessage | None = None,
) -> Receipt:
    """Parse one raw mail and ingest it (committed); a retry of the same mail changes nothing.

    A mail over the limits (size, MIME parts) is not parsed: it is stored raw and
    flagged for a person. ``inbound``: the message already made of it (``too_large``).

    ``own`` is the set of our support addresses (looked up when not given).
    """
    started = time.perf_counter()
    if inbound is None:
        inbound = read_mail(raw, channel)
    parsed = time.perf_counter()
    if timings is not None:
        timings["parse"] = timings.get("parse", 0.0) + parsed - started
    if inbound.sender and inbound.sender.lower() in (our_addresses() if own is None else own):
        log.info(
            "mail %s on %s is from our own address: not ingested", inbound.external_id, channel.name
        )
        return Receipt("own")
    result = _apart(ingest(inbound), inbound, raw)
    if timings is not None:
        timings["ingest"] = timings.get("ingest", 0.0) + time.perf_counter() - parsed
    return Receipt(
        "duplicate" if result.duplicate else "stored", _id(result.message), _id(result.ticket)
    )


def receive_many(
    channel: Mailbox | Channel,
    mails: Sequence[tuple[bytes, InboundMessage | None]],
    timings: dict | None = None,
    own: set[str] | None = None,
) -> list[Receipt | Exception]:
    """``receive`` for a poll's mails, ingested together (``ingest_many``: one transaction,
    each alone when it fails); for each mail its receipt or the error that kept it out.
    ``mails``: the raw bytes and, when already made (``too_large``, or read in a worker
    process by ``email.reader``), the message."""
    started = time.perf_counter()
    inbounds = [inbound or read_mail(raw, channel) for raw, inbound in mails]
    parsed = time.perf_counter()
    own = our_addresses() if own is None else own
    receipts: list[Receipt | Exception] = [Receipt("own")] * len(mails)
    todo = [n for n, inbound in enumerate(inbounds) if (inbound.sender or "").lower() not in own]
    _reused_ids([inbounds[n] for n in todo], [mails[n][0] for n in todo])
    for n, result in zip(todo, ingest_many([inbounds[n] for n in todo]), strict=True):
        try:
            if isinstance(result, Exception):
                raise result
            result = _apart(result, inbounds[n], mails[n][0])
            receipts[n] = Receipt(
                "duplicate" if result.duplicate else "stored",
                _id(result.message),
                _id(result.ticket),
            )
        except Exception as exc:  # noqa: BLE001 - handed back per mail, never dropped
            db.session.rollback()
            receipts[n] = exc
    if timings is not None:
        timings["parse"] = timings.get("parse", 0.0) + parsed - started
        timings["ingest"] = timings.get("ingest", 0.0) + time.perf_counter() - parsed
    return receipts


def _reused_ids(inbounds: list[InboundMessage], raws: list[bytes]) -> None:
    """Give a mail an id of its own, as ``_apart`` does, when its Message-ID is one a
    stored mail or an earlier one of the batch has and its content differs: before the
    batch is ingested, so it is stored in its place in the order (threading as alone)."""
    wanted = {inbound.external_id for inbound in inbounds if inbound.external_id}
    if not wanted:
        return
    # None: stored without its raw source (dropped after the retention): the same mail
    known: dict[str, str | None] = {
        external_id or "": fingerprint(raw) if raw is not None else None
        for external_id, raw in db.session.execute(
            select(Message.external_id, MessageSource.raw)
            .outerjoin(MessageSource, MessageSource.message_id == Message.id)
            .where(Message.channel == EMAIL, Message.external_id.in_(wanted))
        )
    }
    seen: dict[str, bytes] = {}
    for inbound, raw in zip(inbounds, raws, strict=True):
        external_id = inbound.external_id
        if not external_id:
            continue
        if external_id not in known and external_id not in seen:
            seen[external_id] = inbound.raw or raw  # the first: its fingerprint only if needed
            continue
        if external_id not in known:
            known[external_id] = fingerprint(seen[external_id])
        mine = fingerprint(inbound.raw or raw)
        if known[external_id] not in (None, mine):
            inbound.external_id = f"{external_id[:-1][:400]}.{mine[:16]}>"


def _apart(result: IngestResult, inbound: InboundMessage, raw: bytes) -> IngestResult:
    """Another mail under a Message-ID we have (a broken mailer reuses them) is kept too,
    under an id of its own, instead of being dropped as a retry."""
    if (
        result.duplicate
        and inbound.external_id
        and not _same_mail(result.message, inbound.raw or raw)
    ):
        inbound.external_id = (
            f"{inbound.external_id[:-1][:400]}.{fingerprint(inbound.raw or raw)[:16]}>"
        )
        return ingest(inbound)
    return result


def _id(row) -> int | None:
    """A committed row's id without reloading the expired row (a query per mail saved)."""
    identity = inspect(row).identity
    return identity[0] if identity else None


# Header fields servers add on the way in: two copies of one mail differ in them only.
_TRACE = (
    b"received",
    b"x-received",
    b"delivered-to",
    b"return-path",
    b"x-original-to",
    b"envelope-to",
    b"authentication-results",
    b"arc-",
    b"x-spam",
    b"x-virus",
    b"x-forwarded",
    b"x-delivered",
    b"x-gm-",
)


def fingerprint(raw: bytes) -> str:
    """A digest of what makes a mail this mail: its header fields and body, without the
    ones servers add on delivery (a copy delivered to two of our mailboxes has the same
    one; two mails under one Message-ID that differ in any other header do not)."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b" " + line.strip()
        else:
            fields.append(line.strip())
    wanted = [
        field for field in fields if not field.split(b":", 1)[0].strip().lower().startswith(_TRACE)
    ]
    return hashlib.sha256(b"\n".join(wanted) + b"\n\n" + body.strip()).hexdigest()


def _same_mail(message: Message, raw: bytes) -> bool:
    """Whether the stored message came from (a copy of) these bytes."""
    stored = db.session.execute(
        select(MessageSource.raw).where(MessageSource.message_id == message.id)
    ).scalar_one_or_none()
    return stored is None or fingerprint(stored) == fingerprint(raw)
