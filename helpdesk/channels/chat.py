"""Live chat: the website widget's channel.

A company embeds ``/chat/widget.js`` with its channel's public key. Visitors talk
over the Socket.IO namespace ``/chat`` (PRODUCT.md): what they write goes through
the one ingest pipeline as ``InboundMessage(channel="chat", sender_kind="chat",
sender=VISITOR_ID)``; agents' replies come back through ``ChatAdapter.send`` into
the room ``visitor:<id>`` (every tab of that visitor). A visitor is a random id the
server hands out (``session``) and the widget keeps in localStorage; giving an
email, or a signed identity token from the company's own site, links the visitor
to the customer record through the same identities as every other channel.

Abuse: the connection's Origin must be one of the channel's allowed origins;
connects per IP and messages per visitor and per IP are rate limited; messages
are text only and at most ``CHAT_MAX_MESSAGE`` characters. A visitor only ever
receives messages of tickets started by that visitor id, and never notes.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, format_datetime
from pathlib import Path

import click
from flask import Blueprint, current_app, render_template, request, send_from_directory
from flask_login import login_required
from flask.cli import with_appcontext
from flask_socketio import ConnectionRefusedError, Namespace, join_room
from sqlalchemy import func, select

from .. import jobs, realtime, unit_of_work
from ..agents.models import Agent, Team
from ..customers import services as customers
from ..customers.identities import InvalidIdentity, normalise_email
from ..errors import HelpdeskError
from ..extensions import db, socketio
from ..models_base import utcnow
from ..ratelimit import allow
from ..tickets import events
from ..tickets.inbound import InboundMessage
from ..tickets.ingest import ingest
from ..tickets.models import OPEN_STATUSES, Message, Ticket
from ..tickets.serializers import iso
from .base import ChannelAdapter, DeliveryError, adapter_for, register
from .models import Channel

log = logging.getLogger(__name__)
CHAT = "chat"
NAMESPACE = "/chat"
_VISITOR = re.compile(r"^v_[A-Za-z0-9_-]{20,64}$")
WIDGET_DIR = Path(__file__).resolve().parent.parent.parent / "static" / "chat"
HISTORY = 50

bp = Blueprint("chat", __name__)


@bp.get("/chat/widget.js")
def widget():
    """The embeddable widget (public: it runs on the company's own website)."""
    response = send_from_directory(WIDGET_DIR, "widget.js", mimetype="text/javascript",
                                   max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/chat/try")
@login_required
def try_chat():
    """A page embedding the first chat widget, for agents to try it (login required)."""
    channel = db.session.execute(select(Channel).where(Channel.kind == CHAT,
                                                       Channel.active.is_(True))
                                 .order_by(Channel.id).limit(1)).unique().scalar_one_or_none()
    return render_template("chat_try.html", channel=channel)


# ----- channels -----

def create_chat_channel(name: str, team: str | None = None, origins=(),
                        greeting: str | None = None,
                        offline_message: str | None = None) -> tuple[Channel, str]:
    """A new chat channel and its identity secret (shown once); flushes."""
    from ..agents.services import team_named

    cleaned = [_origin(o) for o in origins]
    secret = secrets.token_urlsafe(32)
    channel = Channel(kind=CHAT, name=name[:100], address="chat_" + secrets.token_urlsafe(16),
                      settings={"origins": cleaned,
                                "greeting": greeting or "Hi! How can we help?",
                                "offline_message": offline_message or (
                                    "We are not online right now. Leave your email address "
                                    "and message, and we will answer by email.")},
                      secrets={"identity_secret": secret}, state={})
    if team:
        channel.team = team_named(team)
    db.session.add(channel)
    db.session.flush()
    return channel, secret


def _origin(value: str) -> str:
    """``https://shop.example[:port]``, or ``*`` for any website."""
    value = value.strip().rstrip("/")
    if value == "*" or re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", value):
        return value.lower()
    raise click.BadParameter(f"{value!r} is not an origin like https://shop.example")


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


def agents_online(channel: Channel) -> bool:
    """Whether an agent of the channel's team (any agent, for no team) is online."""
    query = select(Agent.id).where(Agent.active.is_(True), Agent.presence == "online")
    if channel.team_id:
        query = query.where(Agent.teams.any(Team.id == channel.team_id))
    return db.session.execute(query.limit(1)).first() is not None


def visitor_ticket(channel_id: int, visitor: str) -> Ticket | None:
    """The visitor's conversation on this channel that is still open, if any."""
    return db.session.execute(
        select(Ticket).where(Ticket.channel == CHAT, Ticket.channel_id == channel_id,
                             Ticket.contact == visitor, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.last_message_at.desc()).limit(1)).unique().scalar_one_or_none()


def message_payload(message: Message) -> dict:
    """A message as the visitor sees it: text, who wrote it, when."""
    author = {"in": "visitor"}.get(message.direction) or (
        "bot" if message.author_kind == "bot" else "agent")
    name = message.author.name if author == "agent" and message.author is not None else None
    return {"id": message.id, "text": message.body_text, "author": author, "name": name,
            "at": iso(message.created_at)}


def history(ticket: Ticket | None) -> list[dict]:
    """The conversation's last messages in and out (never internal notes)."""
    if ticket is None:
        return []
    rows = db.session.execute(
        select(Message).where(Message.ticket_id == ticket.id, Message.direction != "note")
        .order_by(Message.id.desc()).limit(HISTORY)).unique().scalars().all()
    return [message_payload(m) for m in reversed(rows)]


def read_up_to(ticket: Ticket | None) -> int | None:
    """The newest visitor message an agent has seen (opened the ticket after it came)."""
    if ticket is None:
        return None
    from ..tickets.models import TicketRead

    seen = select(func.max(TicketRead.read_at)).where(TicketRead.ticket_id == ticket.id)
    return db.session.execute(
        select(func.max(Message.id)).where(Message.ticket_id == ticket.id,
                                           Message.direction == "in",
                                           Message.created_at <= seen.scalar_subquery())
    ).scalar()


def link_visitor(visitor: str, email: str, name: str | None = None,
                 verified: bool = False) -> None:
    """Tie the visitor to the customer who owns ``email`` (or give it to theirs); flushes.

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
        customers.add_identity(owner, "chat", visitor)
    elif owner is None:
        customers.add_identity(mine, "email", email)
        if name and not mine.name:
            mine.name = name
    elif owner.id != mine.id and all(i.kind == "chat" for i in mine.identities):
        customers.merge(owner, mine)
    log.info("chat visitor linked to %s (%s)", email, "verified" if verified else "given")
    db.session.flush()


# ----- the adapter: agents' replies to the visitor -----

@register
class ChatAdapter(ChannelAdapter):
    """Replies go to the visitor's open widget; after an offline message, by email."""

    kind = CHAT

    def send(self, message: Message, ticket: Ticket) -> str | None:
        """Deliver to every tab of the visitor, or by email if they left it offline."""
        last_in = db.session.execute(
            select(Message).where(Message.ticket_id == ticket.id, Message.direction == "in")
            .order_by(Message.id.desc()).limit(1)).unique().scalar_one_or_none()
        # The bot answers at once, while the visitor is still there; people may answer
        # later, so a message left while nobody was online is answered by email.
        if last_in is not None and (last_in.meta or {}).get("offline") \
                and message.author_kind != "bot":
            email = ticket.customer.values("email") if ticket.customer else []
            mailer = adapter_for("email")
            if not email or mailer is None:
                raise DeliveryError("the visitor left while nobody was online and gave no "
                                    "email address", permanent=True)
            message.recipient = email[0]
            message.meta = {**(message.meta or {}), "sent_by": "email"}
            return mailer.send(message, ticket)
        socketio.emit("message", message_payload(message), to=f"visitor:{ticket.contact}",
                      namespace=NAMESPACE)
        return f"chat-{message.id}"

    def on_read(self, ticket: Ticket) -> None:
        """An agent opened the conversation: the visitor's messages so far are read."""
        last_in = db.session.execute(
            select(Message.id).where(Message.ticket_id == ticket.id, Message.direction == "in")
            .order_by(Message.id.desc()).limit(1)).scalar()
        if last_in is not None:
            socketio.emit("read", {"up_to": last_in}, to=f"visitor:{ticket.contact}",
                          namespace=NAMESPACE)

    def on_agent_typing(self, ticket: Ticket, agent, typing: bool) -> None:
        """Show the visitor that an agent is typing."""
        socketio.emit("typing", {"typing": typing, "name": agent.name},
                      to=f"visitor:{ticket.contact}", namespace=NAMESPACE)


def _presence_changed(agent_id: int, status: str) -> None:
    """Tell the visitors of the agent's chat channels whether someone is online."""
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        return
    channels = db.session.execute(select(Channel).where(
        Channel.kind == CHAT, Channel.active.is_(True),
        (Channel.team_id.in_(agent.team_ids or [-1])) | Channel.team_id.is_(None))
    ).unique().scalars().all()
    for channel in channels:
        socketio.emit("status", {"online": agents_online(channel)}, to=f"chat:{channel.id}",
                      namespace=NAMESPACE)


realtime.PRESENCE_LISTENERS.append(_presence_changed)


# ----- the visitors' namespace -----

class ChatNamespace(Namespace):
    """Visitors' connections: checked origin, rate limits, one room per visitor."""

    def __init__(self, namespace):
        super().__init__(namespace)
        self._lock = threading.Lock()
        self._sessions: dict[str, dict] = {}  # sid -> {"channel", "visitor", "ip"}

    def on_connect(self, auth=None):
        """Check the channel key and origin, hand out or resume the visitor id."""
        auth = auth if isinstance(auth, dict) else {}
        ip = request.remote_addr or "?"
        if not allow(f"chat-connect:{ip}", current_app.config["CHAT_CONNECTS_PER_MINUTE"]):
            raise ConnectionRefusedError("rate limited")
        key = auth.get("channel")
        channel = db.session.execute(select(Channel).where(
            Channel.kind == CHAT, Channel.address == key, Channel.active.is_(True))
        ).unique().scalar_one_or_none() if isinstance(key, str) and len(key) < 100 else None
        if channel is None:
            raise ConnectionRefusedError("unknown chat channel")
        origin = (request.environ.get("HTTP_ORIGIN") or "").lower().rstrip("/")
        allowed = (channel.settings or {}).get("origins") or []
        own = origin.partition("://")[2] == request.host.lower()  # the helpdesk's own pages
        if "*" not in allowed and origin not in allowed and not own:
            log.warning("chat %s refused origin %r", channel.id, origin)
            raise ConnectionRefusedError("this website may not use the chat")
        visitor = auth.get("visitor")
        if not isinstance(visitor, str) or not _VISITOR.match(visitor):
            visitor = "v_" + secrets.token_urlsafe(24)
        email = _verified_email(channel, auth.get("identity")) if auth.get("identity") else None
        if auth.get("identity") and email is None:
            raise ConnectionRefusedError("identity token refused")
        if email is not None:
            with unit_of_work.write_phase():
                link_visitor(visitor, email, verified=True)
                unit_of_work.commit()
        with self._lock:
            self._sessions[request.sid] = {"channel": channel.id, "visitor": visitor, "ip": ip,
                                           "verified": email is not None}
        join_room(f"visitor:{visitor}")
        join_room(f"chat:{channel.id}")
        ticket = visitor_ticket(channel.id, visitor)
        settings = channel.settings or {}
        online = agents_online(channel)
        self.emit("session", {"visitor": visitor, "ticket": ticket.id if ticket else None,
                              "greeting": settings.get("greeting"),
                              "offline_message": settings.get("offline_message"),
                              "online": online, "history": history(ticket),
                              "read_up_to": read_up_to(ticket),
                              "identified": email is not None}, room=request.sid)
        self.emit("status", {"online": online}, room=request.sid)

    def on_disconnect(self, reason=None):
        """Forget the connection (the conversation stays)."""
        with self._lock:
            self._sessions.pop(request.sid, None)

    def _session(self) -> dict | None:
        return self._sessions.get(request.sid)

    def on_message(self, data=None):
        """A visitor's message: through ingest, then to every tab of the visitor."""
        session = self._session()
        text = data.get("text") if isinstance(data, dict) else None
        if session is None:
            return {"error": "not connected"}
        if not isinstance(text, str) or not text.strip():
            return {"error": "empty message"}
        if len(text) > current_app.config["CHAT_MAX_MESSAGE"] or "\x00" in text:
            return {"error": f"messages are at most {current_app.config['CHAT_MAX_MESSAGE']} "
                             "characters of text"}
        if not allow(f"chat-msg:{session['visitor']}",
                     current_app.config["CHAT_MESSAGES_PER_MINUTE"]) or \
                not allow(f"chat-ip:{session['ip']}",
                          current_app.config["CHAT_IP_MESSAGES_PER_MINUTE"]):
            return {"error": "rate limited: please wait a moment"}
        client_id = data.get("client_id")
        channel = db.session.get(Channel, session["channel"])
        if channel is None or not channel.active:
            return {"error": "this chat is closed"}
        online = agents_online(channel)
        first_line = text.strip().splitlines()[0]
        db.session.commit()  # end the reads: ingest writes in a transaction of its own
        result = ingest(InboundMessage(
            channel=CHAT, sender_kind="chat", sender=session["visitor"], text=text,
            subject=first_line[:80] + ("…" if len(first_line) > 80 else ""),
            channel_id=channel.id, recipient=channel.name,
            external_id=f"{session['visitor']}:{client_id}"[:500]
            if isinstance(client_id, str) and 0 < len(client_id) <= 100 else None,
            # identity_verified: the shop signed this visitor in (an email typed into the
            # chat proves nothing; the order bot tells only verified visitors about orders).
            meta={"identity_verified": session["verified"], **({} if online else
                                                                {"offline": True})}))
        self.emit("message", {**message_payload(result.message), "client_id": client_id},
                  room=f"visitor:{session['visitor']}")
        return {"id": result.message.id, "ticket": result.ticket.id}

    def on_typing(self, data=None):
        """The visitor is typing: tell the agents who have the conversation open."""
        session = self._session()
        if session is None:
            return
        ticket = visitor_ticket(session["channel"], session["visitor"])
        if ticket is not None:
            socketio.emit("typing", {"ticket": ticket.id, "customer": True,
                                     "typing": bool(isinstance(data, dict) and data.get("typing"))},
                          to=f"ticket:{ticket.id}", namespace=realtime.AGENTS)

    def on_identify(self, data=None):
        """The visitor gives a name and email: link them to the customer record."""
        session = self._session()
        if session is None or not isinstance(data, dict):
            return {"error": "not connected"}
        name = data.get("name") if isinstance(data.get("name"), str) else None
        if name is not None and (len(name) > 200 or "\x00" in name):
            return {"error": "that name is too long"}
        try:
            email = normalise_email(data.get("email") or "")
        except (InvalidIdentity, TypeError, AttributeError):
            return {"error": "that is not an email address"}
        try:
            with unit_of_work.write_phase():
                link_visitor(session["visitor"], email, (name or "").strip() or None)
                unit_of_work.commit()
        except HelpdeskError as exc:
            db.session.rollback()
            return {"error": exc.message}
        return {"ok": True}

    def on_transcript(self, data=None):
        """Email the visitor the whole conversation (they must have given an email)."""
        session = self._session()
        if session is None:
            return {"error": "not connected"}
        ticket = visitor_ticket(session["channel"], session["visitor"])
        if ticket is None:
            return {"error": "there is no conversation yet"}
        if not (ticket.customer and ticket.customer.values("email")):
            return {"error": "give your email address first"}
        if not allow(f"chat-transcript:{session['visitor']}", 3):
            return {"error": "rate limited: please wait a moment"}
        with unit_of_work.write_phase():
            jobs.enqueue("helpdesk.channels.chat:send_transcript", ticket.id,
                         queue_name="outbound", retries=3)
            unit_of_work.commit()
        return {"ok": True}


socketio.on_namespace(ChatNamespace(NAMESPACE))


def send_transcript(ticket_id: int) -> None:
    """Job: mail the chat's transcript to the customer through the ticket's mailbox."""
    from .email_send import smtp_send
    from .mailboxes import mailbox_for

    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or ticket.customer is None or not ticket.customer.values("email"):
        return
    mailbox = mailbox_for(ticket)
    if mailbox is None:
        raise DeliveryError("no mailbox is set up to send the transcript from", permanent=True)
    recipient = ticket.customer.values("email")[0]
    lines = []
    for item in history(ticket) if ticket.message_count <= HISTORY else _all(ticket):
        who = {"visitor": ticket.customer.name or "You", "bot": "Bot"}.get(
            item["author"], item["name"] or "Support")
        lines.append(f"[{item['at'][:16].replace('T', ' ')}] {who}:\n{item['text']}\n")
    mime = EmailMessage(policy=policy.SMTP)
    mime["From"] = formataddr((mailbox.name, mailbox.address))
    mime["To"] = formataddr((ticket.customer.name or "", recipient))
    mime["Subject"] = f"Your chat with us [#{ticket.number}]"
    mime["Date"] = format_datetime(utcnow())
    mime.set_content("Here is your conversation with us.\n\n" + "\n".join(lines))
    smtp_send(mailbox, mime, recipient)
    events.record(ticket, "transcript", {"to": recipient}, None)
    unit_of_work.commit()


def _all(ticket: Ticket) -> list[dict]:
    rows = db.session.execute(
        select(Message).where(Message.ticket_id == ticket.id, Message.direction != "note")
        .order_by(Message.id)).unique().scalars().all()
    return [message_payload(m) for m in rows]


# ----- admin commands -----

@click.group("chat")
def chat_group() -> None:
    """Manage live-chat channels (the website widget)."""


@chat_group.command("add")
@click.argument("name")
@click.option("--team", help="team (created if new) whose agents answer this chat")
@click.option("--origin", "origins", multiple=True, required=True,
              help="a website allowed to embed the widget, e.g. https://shop.example "
                   "(repeat for several; * allows any)")
@click.option("--greeting", help="the first thing visitors read")
@click.option("--offline-message", help="what visitors read when nobody is online")
@with_appcontext
def chat_add(name: str, team: str | None, origins: tuple[str, ...], greeting: str | None,
             offline_message: str | None) -> None:
    """Add a chat channel; prints the script tag and the identity secret (shown once)."""
    if db.session.execute(select(Channel.id).where(Channel.name == name)).first():
        raise click.ClickException(f"a channel called {name!r} exists already")
    channel, secret = create_chat_channel(name, team, origins, greeting, offline_message)
    db.session.commit()
    base = current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    click.echo(f"chat channel {channel.id} {name!r}: key {channel.address}")
    click.echo(f'Embed: <script src="{base}/chat/widget.js" data-channel="{channel.address}" '
               'async></script>')
    click.echo(f"Identity secret (sign logged-in customers' emails; shown once): {secret}")


@chat_group.command("list")
@with_appcontext
def chat_list() -> None:
    """The chat channels with their keys and allowed websites (never their secrets)."""
    for channel in db.session.execute(select(Channel).where(Channel.kind == CHAT)
                                      .order_by(Channel.id)).unique().scalars():
        click.echo(f"{channel.id}\t{channel.name}\t{channel.address}\t"
                   f"{','.join((channel.settings or {}).get('origins', []))}\t"
                   f"{channel.team.name if channel.team else '-'}")
