"""Who a chat visitor is: the visitor id and its secret, an email typed into the chat
(unverified until its mailbox follows the confirmation link), and the link itself.

A visitor id is not a password: agents see it (a chat ticket's contact, the customer's
``chat_visitors``). Resuming a conversation takes the id and the secret handed out with
it; only the secret's SHA-256 is stored. An email typed into the chat proves nothing: it
is kept on the visitor's own customer as ``unverified_email`` (never an identity, so no
inbound mail and no order question is ever matched on it) until the mailbox follows the
one-time link mailed to it; only then is the visitor tied to (or folded into) the
customer who owns that address. A signed identity token from the company's own site is
proof as well (``services._verified_email``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from types import SimpleNamespace

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from helpdesk.channels.base import DeliveryError
from helpdesk.channels.chat.services import _VISITOR, link_visitor, log
from helpdesk.channels.models import Channel, ChatVisitor
from helpdesk.customers import services as customers
from helpdesk.db import utcnow
from helpdesk.errors import HelpdeskError
from helpdesk.extensions import db

_SALT = "helpdesk-chat-confirm"
AUTO_SUBMITTED = "auto-replied"  # RFC 3834: what the desk sends by itself


class LinkRefused(HelpdeskError):
    """A confirmation link that is forged, expired, used or superseded."""

    status = 400
    code = "invalid_link"


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_visitor() -> tuple[str, str]:
    """A fresh visitor id and its secret (the secret only ever goes to the visitor); flushes."""
    visitor, secret = "v_" + secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    db.session.add(ChatVisitor(visitor=visitor, secret_hash=_sha(secret), verified=False))
    db.session.flush()
    return visitor, secret


def resume(visitor, secret) -> ChatVisitor | None:
    """The visitor, when ``secret`` is the one handed out with ``visitor``."""
    if not isinstance(visitor, str) or not _VISITOR.match(visitor):
        return None
    if not isinstance(secret, str) or not 0 < len(secret) <= 200:
        return None
    row = db.session.get(ChatVisitor, visitor)
    if row is None or not hmac.compare_digest(row.secret_hash, _sha(secret)):
        return None
    return row


def is_verified(visitor: str) -> bool:
    """Whether the visitor proved a mailbox through the confirmation link."""
    row = db.session.get(ChatVisitor, visitor)
    return bool(row and row.verified)


def give_email(visitor: str, email: str, name: str | None) -> bool:
    """Keep an email typed into the chat on the visitor's own customer (a new one when the
    visitor has none), unverified; no other customer is read or changed; flushes. Whether
    the address still needs confirming (False: it is already one of the visitor's own)."""
    mine = customers.find_by_identity("chat", visitor)
    if mine is None:
        mine = customers.create_customer({"name": name})
        customers.add_identity(mine, "chat", visitor)
    elif name and not mine.name:
        mine.name = name
    if email in mine.values("email"):
        mine.unverified_email = None
        db.session.flush()
        return False
    mine.unverified_email = email
    db.session.flush()
    log.info("chat visitor gave an unverified email")
    return True


def _serializer() -> URLSafeTimedSerializer:
    key = current_app.secret_key
    if not key:
        raise RuntimeError("SECRET_KEY is not set: confirmation links cannot be signed")
    return URLSafeTimedSerializer(key, salt=_SALT)


def confirmation_token(visitor: str, email: str) -> str:
    """A signed one-time token for ``email``: a new one supersedes the last; flushes."""
    nonce = secrets.token_urlsafe(16)
    row = db.session.get(ChatVisitor, visitor)
    if row is None:
        raise LinkRefused("this chat visitor is unknown")
    row.confirm_hash = _sha(nonce)
    db.session.flush()
    return _serializer().dumps({"v": visitor, "e": email, "n": nonce})


def check_token(token: str) -> tuple[ChatVisitor, str]:
    """The visitor and email of a genuine, unexpired, unused token, or LinkRefused."""
    try:
        data = _serializer().loads(token, max_age=current_app.config["CHAT_CONFIRM_SECONDS"])
    except BadSignature as exc:  # expired ones too (SignatureExpired)
        raise LinkRefused("this confirmation link is not valid or has expired") from exc
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in "ven"):
        raise LinkRefused("this confirmation link is not valid")
    row = db.session.get(ChatVisitor, data["v"])
    if (
        row is None
        or row.confirm_hash is None
        or not hmac.compare_digest(row.confirm_hash, _sha(data["n"]))
    ):
        raise LinkRefused("this confirmation link was used or replaced by a newer one")
    return row, data["e"]


def confirm(token: str) -> str:
    """Follow a confirmation link: the mailbox is proven, the visitor is tied to the
    customer who owns the address (folded into them when the visitor is nobody else yet),
    or the address becomes the visitor's own; the link is used up; flushes. The email."""
    row, email = check_token(token)
    row.confirm_hash = None
    row.verified = True
    mine = customers.find_by_identity("chat", row.visitor)
    if mine is not None and mine.unverified_email == email:
        mine.unverified_email = None
    link_visitor(row.visitor, email)
    return email


def _mailbox(channel: Channel | None) -> Channel | None:
    from helpdesk.channels.email.mailboxes import mailbox_for

    return mailbox_for(
        SimpleNamespace(channel_id=None, team_id=channel.team_id if channel else None)
    )


def can_confirm(channel: Channel) -> bool:
    """Whether a confirmation mail can be sent for this chat (a mailbox is set up)."""
    return _mailbox(channel) is not None


def send_confirmation(channel_id: int, email: str, link: str) -> None:
    """Job: mail the confirmation link (nothing else ever goes to an unverified address)."""
    from helpdesk.channels.email.adapter import smtp_send

    mailbox = _mailbox(db.session.get(Channel, channel_id))
    if mailbox is None:
        raise DeliveryError("no mailbox is set up to send the confirmation from", permanent=True)
    mime = EmailMessage(policy=policy.SMTP)
    mime["From"] = formataddr((mailbox.name, mailbox.address))
    mime["To"] = email
    mime["Subject"] = "Confirm your email address / Bitte bestätigen Sie Ihre E-Mail-Adresse"
    mime["Date"] = format_datetime(utcnow())
    mime["Auto-Submitted"] = AUTO_SUBMITTED
    mime.set_content(
        "Someone gave this address in our website chat. If it was you, confirm it here "
        f"(the link works once, for {current_app.config['CHAT_CONFIRM_SECONDS'] // 3600} "
        f"hours):\n\n{link}\n\nIf it was not you, ignore this mail.\n\n"
        "Jemand hat diese Adresse in unserem Website-Chat angegeben. Wenn Sie es waren, "
        f"bestätigen Sie sie hier:\n\n{link}\n\nWenn nicht, ignorieren Sie diese Mail.\n"
    )
    smtp_send(mailbox, mime, email)
    db.session.rollback()  # nothing written: the job only read
