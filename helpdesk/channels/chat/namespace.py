"""Live chat: the website widget's channel.

A company embeds ``/chat/widget.js`` with its channel's public key. Visitors talk
over the Socket.IO namespace ``/chat`` (PRODUCT.md): what they write goes through
the one ingest pipeline as ``InboundMessage(channel="chat", sender_kind="chat",
sender=VISITOR_ID)``; agents' replies come back through ``ChatAdapter.send`` into
the room ``visitor:<id>`` (every tab of that visitor). A visitor is a random id and a
secret the server hands out (``session``) and the widget keeps in localStorage; the
conversation resumes only with both (agents see the id, never the secret). A signed
identity token from the company's own site links the visitor to the customer record;
an email typed into the chat stays unverified on the visitor's own record until its
mailbox follows the confirmation link (``identity.py``).

Abuse: the connection's Origin must be one of the channel's allowed origins;
connects per IP and messages per visitor and per IP are rate limited; messages
are text only and at most ``CHAT_MAX_MESSAGE`` characters. A visitor only ever
receives messages of tickets started by that visitor id, and never notes."""

from __future__ import annotations

import threading

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy import inspect, select

from helpdesk import jobs, realtime, unit_of_work
from helpdesk.channels.chat import identity
from helpdesk.channels.chat.services import (
    CHAT,
    NAMESPACE,
    _verified_email,
    agents_online,
    history,
    link_visitor,
    log,
    message_payload,
    read_up_to,
    visitor_ticket,
)
from helpdesk.channels.inbound import InboundAttachment, InboundMessage
from helpdesk.channels.models import Channel
from helpdesk.customers.identities import InvalidIdentity, normalise_email
from helpdesk.errors import HelpdeskError
from helpdesk.extensions import db, socketio
from helpdesk.files import uploads
from helpdesk.metrics.sockets import CountedNamespace
from helpdesk.surveys import chat as survey_chat
from helpdesk.tickets.ingest import IngestResult, ingest
from helpdesk.web.ratelimit import allow


def _ack(result: IngestResult) -> dict:
    """The visitor's acknowledgement: the ids of the stored message and its ticket, read
    from the identity map (the committed rows are expired: no SELECT to reload them)."""
    message, ticket = inspect(result.message).identity, inspect(result.ticket).identity
    return {"id": message[0] if message else None, "ticket": ticket[0] if ticket else None}


class ChatNamespace(CountedNamespace):
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
        channel = (
            db.session.execute(
                select(Channel).where(
                    Channel.kind == CHAT, Channel.address == key, Channel.active.is_(True)
                )
            )
            .unique()
            .scalar_one_or_none()
            if isinstance(key, str) and len(key) < 100
            else None
        )
        if channel is None:
            raise ConnectionRefusedError("unknown chat channel")
        origin = (request.environ.get("HTTP_ORIGIN") or "").lower().rstrip("/")
        allowed = (channel.settings or {}).get("origins") or []
        own = origin.partition("://")[2] == request.host.lower()  # the helpdesk's own pages
        if "*" not in allowed and origin not in allowed and not own:
            log.warning("chat %s refused origin %r", channel.id, origin)
            raise ConnectionRefusedError("this website may not use the chat")
        email = _verified_email(channel, auth.get("identity")) if auth.get("identity") else None
        if auth.get("identity") and email is None:
            raise ConnectionRefusedError("identity token refused")
        # Resuming takes the visitor id AND its secret; an id alone (agents see ids) or a
        # wrong secret is a new visitor with an empty conversation.
        known = identity.resume(auth.get("visitor"), auth.get("secret"))
        secret = None
        if known is None or email is not None:
            with unit_of_work.write_phase():
                if known is None:
                    visitor, secret = identity.new_visitor()
                else:
                    visitor = known.visitor
                if email is not None:
                    link_visitor(visitor, email)
                unit_of_work.commit()
        else:
            visitor = known.visitor
        # Proven: the shop's token now, or the mailbox's confirmation link earlier.
        proven = email is not None or bool(known is not None and known.verified)
        with self._lock:
            self._sessions[realtime.current_sid()] = {
                "channel": channel.id,
                "visitor": visitor,
                "ip": ip,
                "verified": proven,
            }
        join_room(f"visitor:{visitor}")
        join_room(f"chat:{channel.id}")
        ticket = visitor_ticket(channel.id, visitor)
        settings = channel.settings or {}
        online = agents_online(channel)
        self.emit(
            "session",
            {
                "visitor": visitor,
                # Only when handed out: the widget keeps it to resume with.
                **({"secret": secret} if secret is not None else {}),
                "ticket": ticket.id if ticket else None,
                "greeting": settings.get("greeting"),
                "offline_message": settings.get("offline_message"),
                "color": settings.get("color"),
                "text_color": settings.get("text_color"),
                "online": online,
                "history": history(ticket),
                "read_up_to": read_up_to(ticket),
                "identified": proven,
            },
            room=realtime.current_sid(),
        )
        self.emit("status", {"online": online}, room=realtime.current_sid())

    def on_disconnect(self, reason=None):
        """Forget the connection (the conversation stays)."""
        with self._lock:
            self._sessions.pop(realtime.current_sid(), None)

    def _session(self) -> dict | None:
        return self._sessions.get(realtime.current_sid())

    def on_message(self, data=None):
        """A visitor's message: through ingest, then to every tab of the visitor."""
        session = self._session()
        text = data.get("text") if isinstance(data, dict) else None
        if session is None:
            return {"error": "not connected"}
        if not isinstance(text, str) or not text.strip():
            return {"error": "empty message"}
        if len(text) > current_app.config["CHAT_MAX_MESSAGE"] or "\x00" in text:
            return {
                "error": f"messages are at most {current_app.config['CHAT_MAX_MESSAGE']} "
                "characters of text"
            }
        # A visitor's own limits slide (the minute before counts too): never more than the
        # limit within any minute, also across a window's edge.
        if not allow(
            f"chat-msg:{session['visitor']}",
            current_app.config["CHAT_MESSAGES_PER_MINUTE"],
            sliding=True,
        ) or not allow(
            f"chat-ip:{session['ip']}", current_app.config["CHAT_IP_MESSAGES_PER_MINUTE"]
        ):
            return {"error": "rate limited: please wait a moment"}
        first_line = text.strip().splitlines()[0]
        return self._ingest(
            session,
            data,
            text=text,
            subject=first_line[:80] + ("…" if len(first_line) > 80 else ""),
            # identity_verified: the shop signed this visitor in (an email typed into the
            # chat proves nothing; the order bot tells only verified visitors about orders).
            meta={
                "identity_verified": session["verified"] or identity.is_verified(session["visitor"])
            },
        )

    def _ingest(
        self,
        session: dict,
        data: dict,
        text: str,
        subject: str,
        meta: dict,
        attachments: tuple[InboundAttachment, ...] = (),
    ) -> dict:
        """A visitor's message or file through ingest, in a transaction of its own, and
        then to every tab of the visitor; the acknowledgement (or why not)."""
        channel = db.session.get(Channel, session["channel"])
        if channel is None or not channel.active:
            return {"error": "this chat is closed"}
        if not agents_online(channel):
            meta = {**meta, "offline": True}
        # read before the commit expires the row (a SELECT per message saved)
        channel_id, channel_name = channel.id, channel.name
        db.session.commit()  # end the reads: ingest writes in a transaction of its own
        client_id = data.get("client_id")
        with unit_of_work.kept_after_commit():  # the echo below reads what ingest wrote
            result = ingest(
                InboundMessage(
                    channel=CHAT,
                    sender_kind="chat",
                    sender=session["visitor"],
                    text=text,
                    subject=subject,
                    channel_id=channel_id,
                    recipient=channel_name,
                    external_id=f"{session['visitor']}:{client_id}"[:500]
                    if isinstance(client_id, str) and 0 < len(client_id) <= 100
                    else None,
                    attachments=list(attachments),
                    meta=meta,
                )
            )
        self.emit(
            "message",
            {**message_payload(result.message), "client_id": client_id},
            room=f"visitor:{session['visitor']}",
        )
        return _ack(result)

    def on_file(self, data=None):
        """A visitor's file (``{"name", "type", "data": bytes}``): within the size limit
        and of an allowed type (``uploads.check``), through ingest like a message."""
        session = self._session()
        if session is None:
            return {"error": "not connected"}
        if not isinstance(data, dict) or not isinstance(data.get("data"), bytes):
            return {"error": "send a file as bytes"}
        name = str(data["name"]) if isinstance(data.get("name"), str) else "file"
        kind = str(data["type"]) if isinstance(data.get("type"), str) else ""
        if not allow(
            f"chat-msg:{session['visitor']}",
            current_app.config["CHAT_MESSAGES_PER_MINUTE"],
            sliding=True,
        ):
            return {"error": "rate limited: please wait a moment"}
        try:
            [checked] = uploads.check([uploads.Upload(name, kind, data["data"])], visitor=True)
        except HelpdeskError as exc:
            return {"error": exc.message}
        return self._ingest(
            session,
            data,
            text=checked.filename,
            subject=checked.filename[:80],
            meta={"file": True},
            attachments=(
                InboundAttachment(checked.filename, checked.content_type, checked.content),
            ),
        )

    def on_typing(self, data=None):
        """The visitor is typing: tell the agents who have the conversation open."""
        session = self._session()
        if session is None:
            return
        ticket = visitor_ticket(session["channel"], session["visitor"])
        if ticket is not None:
            socketio.emit(
                "typing",
                {
                    "ticket": ticket.id,
                    "customer": True,
                    "typing": bool(isinstance(data, dict) and data.get("typing")),
                },
                to=f"ticket:{ticket.id}",
                namespace=realtime.AGENTS,
            )

    def on_identify(self, data=None):
        """The visitor types a name and email: kept unverified on the visitor's own record
        (no other customer is read or changed), and a confirmation link mailed to it."""
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
        channel = db.session.get(Channel, session["channel"])
        if channel is None:
            return {"error": "this chat is closed"}
        mailable = identity.can_confirm(channel)
        visitor = session["visitor"]
        try:
            with unit_of_work.write_phase():
                pending = identity.give_email(visitor, email, (name or "").strip() or None)
                send = (
                    pending
                    and mailable
                    and allow(f"chat-confirm:{visitor}", 3, sliding=True)
                    and allow(f"chat-confirm-ip:{session['ip']}", 10)
                )
                if send:
                    token = identity.confirmation_token(visitor, email)
                    base = current_app.config["PUBLIC_URL"] or request.host_url.rstrip("/")
                    jobs.enqueue(
                        "helpdesk.channels.chat.identity:send_confirmation",
                        channel.id,
                        email,
                        f"{base}/chat/confirm/{token}",
                        queue_name="outbound",
                        retries=3,
                    )
                unit_of_work.commit()
        except HelpdeskError as exc:
            db.session.rollback()
            return {"error": exc.message}
        return {"ok": True, "verified": not pending, "confirmation_sent": bool(send)}

    def on_rating(self, data=None):
        """The visitor rated with the survey's buttons: ``{"survey", "rating", "comment"?}``
        goes to the surveys service (surveys.chat); the answer is the thanks to show."""
        session = self._session()
        if session is None or not isinstance(data, dict):
            return {"error": "not connected"}
        if not allow(f"chat-rating:{session['visitor']}", 10, sliding=True):
            return {"error": "rate limited: please wait a moment"}
        try:
            with unit_of_work.write_phase():
                answer = survey_chat.rating(
                    session["visitor"],
                    session["channel"],
                    data.get("survey"),
                    data.get("rating"),
                    data.get("comment"),
                )
                unit_of_work.commit()
        except HelpdeskError as exc:
            db.session.rollback()
            return {"error": exc.message}
        return answer

    def on_transcript(self, data=None):
        """Email the visitor the whole conversation (they must have given an email)."""
        session = self._session()
        if session is None:
            return {"error": "not connected"}
        ticket = visitor_ticket(session["channel"], session["visitor"])
        if ticket is None:
            return {"error": "there is no conversation yet"}
        # Only to a verified address (the shop's token or the confirmation link proved it).
        if not (ticket.customer and ticket.customer.values("email")):
            return {"error": "confirm your email address first (follow the link we mailed)"}
        if not allow(f"chat-transcript:{session['visitor']}", 3, sliding=True):
            return {"error": "rate limited: please wait a moment"}
        with unit_of_work.write_phase():
            jobs.enqueue(
                "helpdesk.channels.chat.services:send_transcript",
                ticket.id,
                queue_name="outbound",
                retries=3,
            )
            unit_of_work.commit()
        return {"ok": True}


def register() -> None:
    """Register the ``/chat`` namespace with Socket.IO (once; before ``socketio.init_app``)."""
    if not any(handler.namespace == NAMESPACE for handler in socketio.namespace_handlers):
        socketio.on_namespace(ChatNamespace(NAMESPACE))
