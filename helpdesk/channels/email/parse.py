"""Turning raw RFC 5322 bytes into what a ticket needs, whatever state the mail is in.

The stdlib ``email`` package with ``policy.default`` does the MIME work; every
header and every part is read defensively: a broken header falls back to its
raw text, a wrong or missing charset is guessed (UTF-8 first, then the declared
one, then a detector), and anything that is neither the text nor the HTML
body becomes an attachment, so nothing in the mail is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import cast

from helpdesk.channels.email.headers import (
    addresses,
    clean_text,
    content_charset,
    content_type,
    decode_bytes,
    header_text,
    is_attachment,
    message_ids,
    message_key,
    raw_header,
    sender_of,
)
from helpdesk.channels.email.quotes import split_reply
from helpdesk.channels.email.report import Bounce, auto_reason, bounce_of
from helpdesk.channels.inbound import InboundAttachment

_PARSER = BytesParser(policy=policy.default)
_TOKEN = re.compile(r"\[#(\d{1,9})\]")
MAX_FORWARDED_TEXT = 50_000
# A file none of whose "header" lines has one of these names is not a mail at all.
MAIL_HEADERS = frozenset(
    {
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "received",
        "return-path",
        "delivered-to",
        "mime-version",
        "content-type",
    }
)


class UnparseableMail(Exception):
    """The bytes are not a mail this parser can read at all."""


@dataclass
class ParsedMail:
    """One mail, read: who, to whom, what about, in reply to what, and its content."""

    message_id: str
    message_id_missing: bool = False
    sender: str = ""
    sender_name: str | None = None
    reply_to: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    date: datetime | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    ticket_number: int | None = None
    text: str = ""
    html: str | None = None
    reply_text: str | None = None
    attachments: list[InboundAttachment] = field(default_factory=list)
    forwarded: list[dict] = field(default_factory=list)
    auto: str | None = None
    bounce: Bounce | None = None
    defects: int = 0


def _clean(mail: ParsedMail) -> None:
    """Make every text field of ``mail`` storable (no lone surrogates)."""
    for name in ("sender", "sender_name", "reply_to", "subject", "text", "html", "reply_text"):
        setattr(mail, name, clean_text(getattr(mail, name)))
    mail.to = [clean_text(a) for a in mail.to]
    mail.cc = [clean_text(a) for a in mail.cc]
    mail.in_reply_to = [clean_text(i) for i in mail.in_reply_to]
    mail.references = [clean_text(i) for i in mail.references]
    mail.message_id = clean_text(mail.message_id)
    for item in mail.attachments:
        item.filename = clean_text(item.filename)
        item.content_id = clean_text(item.content_id)
    mail.forwarded = [{k: clean_text(v) for k, v in info.items()} for info in mail.forwarded]
    mail.auto = clean_text(mail.auto)
    if mail.bounce is not None:
        mail.bounce.reason = clean_text(mail.bounce.reason)
        mail.bounce.recipients = [clean_text(r) for r in mail.bounce.recipients]
        mail.bounce.original_ids = [clean_text(i) for i in mail.bounce.original_ids]


def _payload(part: Message) -> bytes:
    """A leaf part's decoded content (base64, quoted-printable, uuencode) as bytes."""
    try:
        # bytes, or None for a multipart (typeshed allows a Message too)
        data = cast(bytes | None, part.get_payload(decode=True))
    except Exception:  # noqa: BLE001 - a broken transfer encoding: keep what is there
        data = None
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, list):
            # A multipart's payload: its parts, Messages (typeshed allows str too).
            return b"".join(_message_bytes(cast(Message, p)) for p in payload)
        data = str(payload or "").encode("utf-8", "surrogateescape")
    return data


def _message_bytes(msg: Message) -> bytes:
    """A nested message (message/rfc822) as bytes."""
    try:
        return msg.as_bytes(policy=policy.default.clone(linesep="\r\n"))
    except Exception:  # noqa: BLE001 - broken headers refuse to be re-serialised
        return msg.as_string(policy=policy.compat32).encode("utf-8", "surrogateescape")


def part_text(part: Message) -> str:
    """A text part as text, in whatever charset it came in, with ``\n`` line ends."""
    text = decode_bytes(_payload(part), content_charset(part))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _walk(msg: Message, parent: str = ""):
    """Leaf parts with their parent's content type; message/* parts count as leaves."""
    kind = content_type(msg)
    if msg.is_multipart() and not kind.startswith("message/"):
        for child in msg.get_payload() or []:
            if isinstance(child, Message):
                yield from _walk(child, kind)
    else:
        yield msg, parent


def _bodies(msg: Message) -> tuple[Message | None, Message | None]:
    """The text/plain and text/html parts that are the mail's body: the first of each
    that is not an attachment, depth first (as ``get_body`` finds them, without its cost)."""
    plain = html = None
    for part, _ in _walk(msg):
        kind = content_type(part)
        if kind in ("text/plain", "text/html") and not is_attachment(part):
            if kind == "text/plain" and plain is None:
                plain = part
            elif kind == "text/html" and html is None:
                html = part
    return plain, html


def _filename(part: Message, index: int) -> str:
    """The attachment's file name without any path, or a made-up one."""
    try:
        name = header_text(part.get_filename() or "")
    except Exception:  # noqa: BLE001
        name = ""
    name = re.sub(r"[\x00-\x1f/\\]+", "_", name).strip(" .")
    if name:
        return name[:255]
    kind = content_type(part)
    extension = {
        "message/rfc822": ".eml",
        "text/plain": ".txt",
        "text/html": ".html",
        "message/delivery-status": ".txt",
        "text/rfc822-headers": ".txt",
    }.get(kind)
    if extension is None:
        import mimetypes

        extension = mimetypes.guess_extension(kind) or ".bin"
    return f"part-{index}{extension}"


def _forwarded(part: Message) -> tuple[dict[str, str | None], str]:
    """What a forwarded mail (message/rfc822) says about itself, and its text."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return {}, ""
    charset = declared_charset(inner)
    sender = addresses(inner, "From", charset)
    info: dict[str, str | None] = {
        "from": sender[0][1] if sender else header_text(raw_header(inner, "From"), charset),
        "subject": header_text(raw_header(inner, "Subject"), charset),
        "date": header_text(raw_header(inner, "Date")),
        "message_id": next(iter(message_ids(raw_header(inner, "Message-ID"))), None),
    }
    plain, html = _bodies(inner)
    text = part_text(plain) if plain is not None else ""
    if not text and html is not None:
        from helpdesk.tickets.html import html_to_text

        text = html_to_text(part_text(html))
    lines = [
        "---------- Forwarded message ----------",
        f"From: {info['from']}",
        f"Date: {info['date']}",
        f"Subject: {info['subject']}",
        "",
        text.strip(),
    ]
    return info, "\n".join(lines)[:MAX_FORWARDED_TEXT]


def _content(mail: ParsedMail, msg: Message) -> None:
    """Fill text, HTML, attachments and forwarded mails from the MIME tree."""
    plain, html = _bodies(msg)
    texts = [part_text(plain)] if plain is not None else []
    mail.html = part_text(html) if html is not None else None
    is_report = content_type(msg) == "multipart/report"
    for index, (part, parent) in enumerate(_walk(msg), start=1):
        if part is plain or part is html:
            continue
        kind = content_type(part)
        if (
            kind == "text/plain"
            and parent == "multipart/mixed"
            and not is_attachment(part)
            and plain is not None
        ):
            texts.append(part_text(part))  # text split around inline images (Apple Mail)
            continue
        if kind == "message/rfc822" and not is_report:
            info, text = _forwarded(part)
            if info:
                mail.forwarded.append(info)
                texts.append(text)
        content_id = raw_header(part, "Content-ID").strip().strip("<>") or None
        content = (
            _message_bytes(part.get_payload()[0])
            if kind == "message/rfc822"
            and isinstance(part.get_payload(), list)
            and part.get_payload()
            else _payload(part)
        )
        mail.attachments.append(
            InboundAttachment(
                filename=_filename(part, index),
                content_type=kind,
                content=content,
                content_id=content_id[:255] if content_id else None,
            )
        )
    mail.text = "\n\n".join(t.strip("\n") for t in texts if t and t.strip())
    if not mail.text and mail.html:
        from helpdesk.tickets.html import html_to_text

        mail.text = html_to_text(mail.html)


def declared_charset(msg: Message) -> str | None:
    """The first charset the mail declares for a text part: what its 8-bit headers
    (which cannot declare one) are most likely written in too."""
    for part, _ in _walk(msg):
        if content_type(part).startswith("text/"):
            found = content_charset(part)
            if found and found.strip("\"' ").lower() not in ("us-ascii", "ascii"):
                return found.strip("\"' ")
    return None


def parse(raw: bytes, list_domains: tuple[str, ...] = ()) -> ParsedMail:
    """Read one mail; raise UnparseableMail only when nothing sensible can be read.

    ``list_domains``: the mailbox's mailing-list domains, whose mail may name its
    member in ``X-Original-Sender``."""
    if not raw or not raw.strip():
        raise UnparseableMail("the message is empty")
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception as exc:  # noqa: BLE001 - the stdlib parser is lenient; this is rare
        raise UnparseableMail(f"MIME parser failed: {exc}") from exc
    names = {key.strip().lower() for key, _ in msg.raw_items()}
    if not names:
        raise UnparseableMail("the message has no headers")
    if not names & MAIL_HEADERS:
        raise UnparseableMail("none of its header lines is a mail header (From, Subject, ...)")
    message_id, missing = message_key(msg, raw)
    mail = ParsedMail(message_id=message_id, message_id_missing=missing)
    mail.defects = len(msg.defects)
    charset = declared_charset(msg)
    mail.sender_name, mail.sender = sender_of(msg, charset, list_domains)
    reply_to = addresses(msg, "Reply-To", charset)
    mail.reply_to = reply_to[0][1] if reply_to else None
    mail.to = [a for _, a in addresses(msg, "To", charset)]
    mail.cc = [a for _, a in addresses(msg, "Cc", charset)]
    mail.subject = header_text(raw_header(msg, "Subject"), charset)
    try:
        mail.date = parsedate_to_datetime(header_text(raw_header(msg, "Date")))
    except (TypeError, ValueError, IndexError, OverflowError):
        mail.date = None
    mail.in_reply_to = message_ids(raw_header(msg, "In-Reply-To"))
    mail.references = message_ids(raw_header(msg, "References"))
    token = _TOKEN.search(mail.subject)
    mail.ticket_number = int(token.group(1)) if token else None
    _content(mail, msg)
    mail.auto = auto_reason(msg, mail.sender)
    mail.bounce = bounce_of(msg, mail.sender)
    if mail.bounce is not None and not mail.auto:
        mail.auto = "delivery status report"
    reply = split_reply(mail.text)
    mail.reply_text = reply if reply != mail.text.strip() else None
    _clean(mail)
    return mail
