"""Live chat's services: the channel, visitors and their identities, history, transcripts."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import cache
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, bindparam, func, select

from helpdesk import i18n, unit_of_work
from helpdesk.agents.models import Agent, Team
from helpdesk.channels.base import DeliveryError
from helpdesk.channels.chat import widgets
from helpdesk.channels.models import Channel
from helpdesk.customers import services as customers
from helpdesk.customers.identities import InvalidIdentity, normalise_email
from helpdesk.db import iso, utcnow
from helpdesk.duplicates import merging
from helpdesk.extensions import db
from helpdesk.surveys.chat import prompt as survey_prompt
from helpdesk.tickets import events
from helpdesk.tickets.models import OPEN_STATUSES, Attachment, Message, Ticket

log = logging.getLogger(__name__)
CHAT = widgets.CHAT
NAMESPACE = "/chat"
_VISITOR = re.compile(r"^v_[A-Za-z0-9_-]{20,64}$")
WIDGET_DIR = Path(__file__).resolve().parent.parent.parent / "static" / "chat"
HISTORY = 50


def create_chat_channel(
    name: str,
    team: str | None = None,
    origins=(),
    greeting: str | None = None,
    offline_message: str | None = None,
) -> tuple[Channel, str]:
    """A new chat channel and its identity secret (shown once); flushes and audits."""
    from helpdesk.agents.services import team_named

    channel, secret = widgets.save_widget(
        None,
        name,
        origins,
        greeting,
        offline_message,
        team=team_named(team) if team else widgets.KEEP,
    )
    assert secret is not None  # a new widget always has one
    return channel, secret


def identity_hash(secret: str, email: str) -> str:
    """What the company's site signs a logged-in customer's email with (hex HMAC-SHA256)."""
    return hmac.new(secret.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


def _verified_email(channel: Channel, token) -> str | None:
    """The email of a signed identity token ``EMAIL:HEX`` (or {"email", "hash"}), if genuine."""
    if isinstance(token, dict):
        email, signature = token.get("email"), token.get("hash")
    elif isinstance(token, str):
        email, _, signature = token.rpartition(":")
    else:
        return None
    if not isinstance(email, str) or not isinstance(signature, str) or not email:
        return None
    secret = (channel.secrets or {}).get("identity_secret", "")
    if not secret or not hmac.compare_digest(identity_hash(secret, email), signature.lower()):
        return None
    try:
        return normalise_email(email)
    except InvalidIdentity:
        return None


@cache
def _online_query(of_team: bool) -> Select[int]:
    """An online active agent (of team ``:team_id``): built once, not per chat message."""
    query = select(Agent.id).where(Agent.active.is_(True), Agent.presence == "online")
    if of_team:
        query = query.where(Agent.teams.any(Team.id == bindparam("team_id")))
    return query.limit(1)


def agents_online(channel: Channel) -> bool:
    """Whether an agent of the channel's team (any agent, for no team) is online."""
    query = _online_query(bool(channel.team_id))
    params = {"team_id": channel.team_id} if channel.team_id else {}
    return db.session.execute(query, params).first() is not None


def visitor_ticket(channel_id: int, visitor: str) -> Ticket | None:
    """The visitor's conversation on this channel that is still open, if any."""
    return (
        db.session.execute(
            select(Ticket)
            .where(
                Ticket.channel == CHAT,
                Ticket.channel_id == channel_id,
                Ticket.contact == visitor,
                Ticket.status.in_(OPEN_STATUSES),
            )
            .order_by(Ticket.last_message_at.desc())
            .limit(1)
        )
        .unique()
        .scalar_one_or_none()
    )


def message_payload(message: Message) -> dict:
    """A message as the visitor sees it: text, who wrote it, when."""
    author = {"in": "visitor"}.get(message.direction) or (
        "bot" if message.author_kind == "bot" else "agent"
    )
    name = message.author.name if author == "agent" and message.author is not None else None
    files = [file_link(a) for a in message.attachments if a.sha256]
    payload: dict[str, Any] = {
        "id": message.id,
        "text": message.body_text,
        "author": author,
        "name": name,
        "at": iso(message.created_at),
        **({"attachments": files} if files else {}),
    }
    meta = message.meta or {}
    if meta.get("ask") and meta.get("survey"):  # the survey's question: rating buttons
        survey = survey_prompt(meta["survey"])
        if survey is not None:
            payload["survey"] = survey
    return payload


def _files() -> URLSafeSerializer:
    """Signs the links to a conversation's files the widget shows."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="chat-file")


def file_link(attachment) -> dict:
    """A file as the visitor sees it: its name, type and a signed link (no login)."""
    token = _files().dumps(attachment.id)
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "image": attachment.content_type in ("image/png", "image/jpeg", "image/gif", "image/webp"),
        "url": f"/chat/files/{token}",
    }


def file_of(token: str):
    """The attachment a signed link names, if it is a chat conversation's (never a
    note's); None otherwise."""
    try:
        attachment_id = _files().loads(token)
    except BadSignature:
        return None
    if not isinstance(attachment_id, int):
        return None
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.sha256 is None:
        return None
    message = attachment.message
    if message.channel != CHAT or message.direction not in ("in", "out"):
        return None
    return attachment


def history(ticket: Ticket | None) -> list[dict]:
    """The conversation's last messages in and out (never internal notes)."""
    if ticket is None:
        return []
    rows = (
        db.session.execute(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.direction != "note")
            .order_by(Message.id.desc())
            .limit(HISTORY)
        )
        .unique()
        .scalars()
        .all()
    )
    return [message_payload(m) for m in reversed(rows)]


def read_up_to(ticket: Ticket | None) -> int | None:
    """The newest visitor message an agent has seen (opened the ticket after it came)."""
    if ticket is None:
        return None
    from helpdesk.tickets.models import TicketRead

    seen = select(func.max(TicketRead.read_at)).where(TicketRead.ticket_id == ticket.id)
    return db.session.execute(
        select(func.max(Message.id)).where(
            Message.ticket_id == ticket.id,
            Message.direction == "in",
            Message.created_at <= seen.scalar_subquery(),
        )
    ).scalar()


def link_visitor(visitor: str, email: str, name: str | None = None) -> None:
    """Tie the visitor to the customer who owns a PROVEN ``email`` (the shop's signed
    identity token, or the mailbox followed the confirmation link), or give the email
    to the visitor's customer; flushes. An email merely typed into the chat never comes
    here (``identity.give_email``).

    A visitor known only by the chat id is folded into the email's customer; a
    visitor's customer who has other addresses already keeps them, and the email
    stays with its owner.
    """
    mine = customers.find_by_identity("chat", visitor)
    owner = customers.find_by_identity("email", email)
    if mine is None and owner is None:
        created = customers.create_customer({"name": name})
        customers.add_identity(created, "email", email)
        customers.add_identity(created, "chat", visitor)
    elif mine is None:
        assert owner is not None  # (not both None)
        customers.add_identity(owner, "chat", visitor)
    elif owner is None:
        customers.add_identity(mine, "email", email)
        if name and not mine.name:
            mine.name = name
    elif owner.id != mine.id and all(i.kind == "chat" for i in mine.identities):
        merging.merge(owner, mine)
    log.info("chat visitor linked to %s (proven)", email)
    db.session.flush()


# ----- the adapter: agents' replies to the visitor -----


def send_transcript(ticket_id: int) -> None:
    """Job: mail the chat's transcript to the customer through the ticket's mailbox."""
    from helpdesk.channels.email.adapter import smtp_send
    from helpdesk.channels.email.mailboxes import mailbox_for

    ticket = db.session.get(Ticket, ticket_id)
    # Only to a verified address: an identity (an email typed into the chat is not one
    # until its mailbox confirmed it).
    if ticket is None or ticket.customer is None or not ticket.customer.values("email"):
        return
    mailbox = mailbox_for(ticket)
    if mailbox is None:
        raise DeliveryError("no mailbox is set up to send the transcript from", permanent=True)
    recipient = ticket.customer.values("email")[0]
    lines = []
    with force_locale(i18n.customer_language(ticket.customer)):  # the customer's language
        for item in history(ticket) if ticket.message_count <= HISTORY else _all(ticket):
            who = {"visitor": ticket.customer.name or _("You"), "bot": _("Bot")}.get(
                item["author"], item["name"] or _("Support")
            )
            lines.append(f"[{item['at'][:16].replace('T', ' ')}] {who}:\n{item['text']}\n")
        subject = _("Your chat with us [#%(number)s]", number=ticket.number)
        intro = _("Here is your conversation with us.")
    mime = EmailMessage(policy=policy.SMTP)
    mime["From"] = formataddr((mailbox.name, mailbox.address))
    mime["To"] = formataddr((ticket.customer.name or "", recipient))
    mime["Subject"] = subject
    mime["Date"] = format_datetime(utcnow())
    mime["Auto-Submitted"] = "auto-replied"
    mime.set_content(intro + "\n\n" + "\n".join(lines))
    smtp_send(mailbox, mime, recipient)
    events.record(ticket, "transcript", {"to": recipient}, None)
    unit_of_work.commit()


def _all(ticket: Ticket) -> list[dict]:
    rows = (
        db.session.execute(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.direction != "note")
            .order_by(Message.id)
        )
        .unique()
        .scalars()
        .all()
    )
    return [message_payload(m) for m in rows]


# ----- admin commands -----


def first_widget() -> Channel | None:
    """The first active chat widget (the agents' try-it page embeds it)."""
    return (
        db.session.execute(
            select(Channel)
            .where(Channel.kind == CHAT, Channel.active.is_(True))
            .order_by(Channel.id)
            .limit(1)
        )
        .unique()
        .scalar_one_or_none()
    )


def widget_origins() -> set[str]:
    """The websites any active chat widget may be embedded on (``*``: any)."""
    channels = (
        db.session.execute(select(Channel).where(Channel.kind == CHAT, Channel.active.is_(True)))
        .unique()
        .scalars()
    )
    return {
        origin for channel in channels for origin in (channel.settings or {}).get("origins") or []
    }
