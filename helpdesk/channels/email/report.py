"""Mail written by machines: auto-replies, bulk mail and delivery status reports (bounces).

Such mail is stored on its ticket but must never trigger an auto-reply or
reopen a solved ticket; a bounce names the message of ours that did not arrive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from typing import cast

from helpdesk.channels.email.headers import content_type

_MSGID = re.compile(r"<[^<>\s]{1,490}>")
_MESSAGE_ID_LINE = re.compile(r"(?im)^\s*message-id:\s*(<[^<>\s]{1,490}>)")
_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)


@dataclass
class Bounce:
    """A delivery status report: which of our messages failed, for whom and why."""

    original_ids: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    reason: str = ""
    failed: bool = True  # False for a mere delay warning


def _header(msg: Message, name: str) -> str:
    """A header's raw value, lower-cased and stripped ('' when absent or broken)."""
    for key, value in msg.raw_items():
        if key.lower() == name:
            return str(value).strip().lower()
    return ""


def auto_reason(msg: Message, sender: str) -> str | None:
    """Why this mail was written by a machine, or None for a person's mail."""
    submitted = _header(msg, "auto-submitted")
    if submitted and not submitted.startswith("no"):
        return f"Auto-Submitted: {submitted}"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-response-suppress"):
        if _header(msg, name):
            return f"{name}: {_header(msg, name)}"
    precedence = _header(msg, "precedence")
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    if _header(msg, "return-path") in ("<>", "< >"):
        return "Return-Path: <> (a bounce or notification)"
    if content_type(msg) == "multipart/report":
        return f"report: {msg.get_param('report-type') or 'unknown'}"
    if _header(msg, "x-failed-recipients"):
        return "X-Failed-Recipients"
    if _header(msg, "list-id"):
        return "List-Id (mailing list)"
    if sender and _DAEMON.match(sender):
        return f"sent by {sender}"
    return None


def _status_fields(part: Message) -> list[dict[str, str]]:
    """The field blocks of a message/delivery-status part, lower-cased names."""
    blocks = []
    payload = part.get_payload()
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append({k.lower(): str(v).strip() for k, v in block.raw_items()})
    else:  # some parsers leave it as text: split it ourselves
        text = payload if isinstance(payload, str) else ""
        for chunk in re.split(r"\r?\n\s*\r?\n", text):
            fields = {}
            for line in re.sub(r"\r?\n[ \t]+", " ", chunk).splitlines():
                name, sep, value = line.partition(":")
                if sep:
                    fields[name.strip().lower()] = value.strip()
            if fields:
                blocks.append(fields)
    return blocks


def _original_ids(msg: Message) -> list[str]:
    """Message-IDs of the returned original (message/rfc822 or text/rfc822-headers)."""
    found: list[str] = []
    for part in msg.walk():
        kind = content_type(part)
        if kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner, Message):
                for key, value in inner.raw_items():
                    if key.lower() == "message-id":
                        found += _MSGID.findall(str(value))
        elif kind in ("text/rfc822-headers", "text/plain"):
            try:
                # bytes, or None for a multipart (typeshed allows a Message too)
                text = cast(bytes, part.get_payload(decode=True) or b"")
            except Exception:  # noqa: BLE001
                text = b""
            found += _MESSAGE_ID_LINE.findall(text.decode("utf-8", "replace"))
    return list(dict.fromkeys(found))


def bounce_of(msg: Message, sender: str) -> Bounce | None:
    """The delivery status report in this mail, if it is one."""
    report = (
        content_type(msg) == "multipart/report"
        # A str: the parser's policy decodes RFC 2231 values (typeshed allows a tuple).
        and cast(str, msg.get_param("report-type") or "").lower() == "delivery-status"
    )
    if not (report or _header(msg, "x-failed-recipients") or (sender and _DAEMON.match(sender))):
        return None
    bounce = Bounce()
    reasons, outcomes = [], []
    for part in msg.walk():
        if content_type(part) != "message/delivery-status":
            continue
        for block in _status_fields(part):
            recipient = block.get("final-recipient") or block.get("original-recipient")
            if recipient:
                bounce.recipients.append(recipient.split(";", 1)[-1].strip())
            action, status = block.get("action", "").lower(), block.get("status", "")
            if action or status:
                outcomes.append(action == "failed" or status.startswith("5"))
            reason = block.get("diagnostic-code") or ""
            if status or reason or action:
                reasons.append(" ".join(x for x in (action, status, reason) if x))
    bounce.failed = any(outcomes) if outcomes else True
    if not bounce.recipients:
        failed = _header(msg, "x-failed-recipients")
        bounce.recipients = [a.strip() for a in failed.split(",") if a.strip()]
    bounce.reason = "; ".join(reasons)[:1000] or "the mail could not be delivered"
    bounce.original_ids = _original_ids(msg)
    return bounce
