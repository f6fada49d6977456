"""What a campaign says to one recipient: the placeholders, checked and filled without
``str.format`` (no attribute or index access, no format specs), the unsubscribe link and
its signed token, and the email's MIME bytes with RFC 8058's one-click headers."""

from __future__ import annotations

import hashlib
import hmac
import html
import quopri
import secrets
from dataclasses import dataclass
from email.header import Header
from email.utils import format_datetime, formataddr
from string import Formatter

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from helpdesk.db import utcnow
from helpdesk.errors import Invalid

PLACEHOLDERS = ("customer_name", "first_name", "organization")
_SALT = "campaign-unsubscribe"


@dataclass
class Person:
    """What the placeholders of one recipient are filled with."""

    name: str
    organization: str

    @property
    def first_name(self) -> str:
        """The first word of the name."""
        return self.name.split()[0] if self.name.strip() else ""


def check(text: str | None, field: str) -> list[tuple[str, str | None]]:
    """``text`` split into (literal, placeholder or None) pieces; Invalid naming ``field``
    for an unknown placeholder, an attribute or index, a format spec or a lone brace."""
    pieces: list[tuple[str, str | None]] = []
    try:
        parsed = list(Formatter().parse(text or ""))
    except ValueError as exc:
        raise Invalid(
            f"the {field} has a lone brace: write {{{{ or }}}} for a brace",
            fields={field: str(exc)},
        ) from None
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None))
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise Invalid(
                f"the {field} has an unknown placeholder {{{name}}}; known: {known}",
                fields={field: f"unknown placeholder {{{name}}}"},
            )
        pieces.append((literal, name))
    return pieces


def fill(text: str | None, person: Person) -> str:
    """``text`` with its placeholders filled in for ``person`` (checked first)."""
    values = {
        "customer_name": person.name,
        "first_name": person.first_name,
        "organization": person.organization,
    }
    return "".join(
        literal + (values[name] if name else "") for literal, name in check(text, "body")
    )


def token(recipient_id: int) -> str:
    """The signed token of one recipient's unsubscribe link (no login, not guessable)."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT).dumps(recipient_id)


def recipient_of(value: str) -> int | None:
    """The recipient id a token was made for, or None for a forged or broken one."""
    try:
        loaded = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT).loads(value)
    except BadSignature:
        return None
    return loaded if isinstance(loaded, int) else None


def unsubscribe_url(recipient_id: int) -> str:
    """The public unsubscribe page of one recipient."""
    base = current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    return f"{base}/unsubscribe/{token(recipient_id)}"


def message_id(campaign_id: int, recipient_id: int, address: str) -> str:
    """The Message-ID of one recipient's mail: the same on every attempt (so a retry is
    recognisable), unguessable (so nobody threads a mail onto someone else's reply)."""
    key = current_app.config["SECRET_KEY"].encode()
    text = f"campaign:{campaign_id}:{recipient_id}".encode()
    digest = hmac.new(key, text, hashlib.sha256).hexdigest()[:20]
    domain = address.rpartition("@")[2] or "helpdesk.invalid"
    return f"<hd.c{campaign_id}.r{recipient_id}.{digest}@{domain}>"


def footer(link: str, language: str | None) -> str:
    """The visible unsubscribe line under a campaign mail, in the customer's language."""
    with force_locale(language or current_app.config.get("DEFAULT_LANGUAGE", "en")):
        return _(
            "You receive this because you agreed to hear from us. Unsubscribe: %(link)s", link=link
        )


def _html(text: str, link: str, line: str) -> str:
    """The mail as simple HTML, the unsubscribe line a link."""
    paragraphs = (text or "").replace("\r\n", "\n").split("\n\n")
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    words = html.escape(line.replace(link, "").rstrip(": "))
    anchor = f'<a href="{html.escape(link)}">{html.escape(link)}</a>'
    return (
        f'<!DOCTYPE html><html><body><div dir="auto">{body}'
        f'<p style="font-size:small;color:#555">{words}: {anchor}</p></div></body></html>'
    )


def _header(text: str) -> str:
    """A header value: as it is when plain ASCII, else an RFC 2047 encoded word; line
    breaks never pass (no header injection through a subject or a name)."""
    text = " ".join(text.split())
    return text if text.isascii() else Header(text, "utf-8").encode()


def _qp(text: str) -> bytes:
    """A text part's body: UTF-8, quoted-printable, CRLF line ends."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    return quopri.encodestring(lines.encode("utf-8")).replace(b"\n", b"\r\n")


def email(
    *,
    sender: str,
    sender_name: str,
    to: str,
    to_name: str,
    subject: str,
    body: str,
    msgid: str,
    link: str,
    language: str | None,
    campaign_id: int,
) -> bytes:
    """One recipient's mail as bytes, written directly (the email package's generator
    takes milliseconds a mail, more than the rest of the send): List-Unsubscribe (the
    https link, one click by RFC 8058's List-Unsubscribe-Post) and the same link visible
    in the text and HTML parts, both quoted-printable UTF-8."""
    line = footer(link, language)
    boundary = "==hd-" + secrets.token_hex(12) + "=="  # "=" is "=3D" in quoted-printable
    headers = [
        f"From: {formataddr((_header(sender_name), sender))}",
        f"To: {formataddr((_header(to_name), to)) if to_name else to}",
        f"Subject: {_header(subject)}",
        f"Date: {format_datetime(utcnow())}",
        f"Message-ID: {msgid}",
        f"List-Unsubscribe: <{link}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "Precedence: bulk",
        f"X-Helpdesk-Campaign: {campaign_id}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    part = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'
    return b"".join(
        (
            "\r\n".join(headers).encode("ascii"),
            b"\r\n\r\n",
            f"--{boundary}\r\n{part.format('plain')}\r\n\r\n".encode(),
            _qp(f"{body}\n\n-- \n{line}\n"),
            f"\r\n--{boundary}\r\n{part.format('html')}\r\n\r\n".encode(),
            _qp(_html(body, link, line)),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )
