"""What a campaign says to one recipient: the placeholders, checked and filled without
``str.format`` (no attribute or index access, no format specs), the unsubscribe link and
its signed token, and the email's MIME bytes with RFC 8058's one-click headers."""

from __future__ import annotations

import hashlib
import hmac
import html
import quopri
import secrets
import time
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
    return fill_pieces(check(text, "body"), person)


def fill_pieces(pieces: list[tuple[str, str | None]], person: Person) -> str:
    """``check``'s pieces of a text filled in for ``person``."""
    values = {
        "customer_name": person.name,
        "first_name": person.first_name,
        "organization": person.organization,
    }
    return "".join(literal + (values[name] if name else "") for literal, name in pieces)


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
    """One recipient's mail as bytes (``Mails`` makes a campaign's many)."""
    return _assemble(
        f"From: {formataddr((_header(sender_name), sender))}",
        to=to,
        to_name=to_name,
        subject=subject,
        date=format_datetime(utcnow()),
        body=body,
        msgid=msgid,
        link=link,
        line=footer(link, language),
        campaign_id=campaign_id,
    )


def _assemble(
    from_line: str,
    *,
    to: str,
    to_name: str,
    subject: str,
    date: str,
    body: str,
    msgid: str,
    link: str,
    line: str,
    campaign_id: int,
) -> bytes:
    """A mail's bytes, written directly (the email package's generator takes
    milliseconds a mail, more than the rest of the send): List-Unsubscribe (the https
    link, one click by RFC 8058's List-Unsubscribe-Post) and the same link visible in
    the text and HTML parts, both quoted-printable UTF-8."""
    boundary = "==hd-" + secrets.token_hex(12) + "=="  # "=" is "=3D" in quoted-printable
    headers = [
        from_line,
        f"To: {formataddr((_header(to_name), to)) if to_name else to}",
        f"Subject: {_header(subject)}",
        f"Date: {date}",
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


class Mails:
    """A campaign's mails: what they share worked out once (the placeholders parsed, the
    sender's header, the token signer and key, the unsubscribe line per language, the
    Date per second), so each recipient costs only its own parts: the filled subject
    and text, its token and link, its Message-ID. The bytes are those ``email`` writes."""

    _LINK = "\x00link\x00"  # stands for the link in a cached unsubscribe line

    def __init__(
        self, *, campaign_id: int, sender: str, sender_name: str, subject: str | None, body: str
    ) -> None:
        self.campaign_id, self.sender = campaign_id, sender
        self._subject, self._body = check(subject, "subject"), check(body, "body")
        self._from = f"From: {formataddr((_header(sender_name), sender))}"
        secret = current_app.config["SECRET_KEY"]
        self._signer = URLSafeSerializer(secret, salt=_SALT)
        self._key = secret.encode()
        self._base = current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
        self._domain = sender.rpartition("@")[2] or "helpdesk.invalid"
        self._lines: dict[str | None, str] = {}
        self._date = (0, "")

    def _line(self, link: str, language: str | None) -> str:
        """The unsubscribe line in ``language`` (translated once per language)."""
        if language not in self._lines:
            self._lines[language] = footer(self._LINK, language)
        return self._lines[language].replace(self._LINK, link)

    def _now(self) -> str:
        """The Date header's value, formatted once a second."""
        second = int(time.time())
        if self._date[0] != second:
            self._date = (second, format_datetime(utcnow()))
        return self._date[1]

    def one(self, row_id: int, address: str, person: Person, language) -> tuple[str, bytes]:
        """One recipient's Message-ID and mail."""
        text = f"campaign:{self.campaign_id}:{row_id}".encode()
        digest = hmac.new(self._key, text, hashlib.sha256).hexdigest()[:20]
        msgid = f"<hd.c{self.campaign_id}.r{row_id}.{digest}@{self._domain}>"
        link = f"{self._base}/unsubscribe/{self._signer.dumps(row_id)}"
        raw = _assemble(
            self._from,
            to=address,
            to_name=person.name,
            subject=fill_pieces(self._subject, person),
            date=self._now(),
            body=fill_pieces(self._body, person),
            msgid=msgid,
            link=link,
            line=self._line(link, language),
            campaign_id=self.campaign_id,
        )
        return msgid, raw
