"""Live chat's outbound side: agents' replies, read receipts and typing reach the visitor."""

from __future__ import annotations

from sqlalchemy import select

from helpdesk.agents.models import Agent
from helpdesk.channels.base import ChannelAdapter, DeliveryError, adapter_for
from helpdesk.channels.chat.services import CHAT, NAMESPACE, agents_online, message_payload
from helpdesk.channels.models import Channel
from helpdesk.extensions import db, socketio
from helpdesk.tickets.models import Message, Ticket


class ChatAdapter(ChannelAdapter):
    """Replies go to the visitor's open widget; after an offline message, by email."""

    kind = CHAT

    def send(self, message: Message, ticket: Ticket) -> str | None:
        """Deliver to every tab of the visitor, or by email if they left it offline."""
        last_in = (
            db.session.execute(
                select(Message)
                .where(Message.ticket_id == ticket.id, Message.direction == "in")
                .order_by(Message.id.desc())
                .limit(1)
            )
            .unique()
            .scalar_one_or_none()
        )
        # The bot answers at once, while the visitor is still there; people may answer
        # later, so a message left while nobody was online is answered by email.
        if (
            last_in is not None
            and (last_in.meta or {}).get("offline")
            and message.author_kind != "bot"
        ):
            email = ticket.customer.values("email") if ticket.customer else []
            mailer = adapter_for("email")
            if not email or mailer is None:
                raise DeliveryError(
                    "the visitor left while nobody was online and confirmed no email address",
                    permanent=True,
                )
            message.recipient = email[0]
            message.meta = {**(message.meta or {}), "sent_by": "email"}
            return mailer.send(message, ticket)
        socketio.emit(
            "message", message_payload(message), to=f"visitor:{ticket.contact}", namespace=NAMESPACE
        )
        return f"chat-{message.id}"

    def on_read(self, ticket: Ticket) -> None:
        """An agent opened the conversation: the visitor's messages so far are read."""
        last_in = db.session.execute(
            select(Message.id)
            .where(Message.ticket_id == ticket.id, Message.direction == "in")
            .order_by(Message.id.desc())
            .limit(1)
        ).scalar()
        if last_in is not None:
            socketio.emit(
                "read", {"up_to": last_in}, to=f"visitor:{ticket.contact}", namespace=NAMESPACE
            )

    def on_agent_typing(self, ticket: Ticket, agent, typing: bool) -> None:
        """Show the visitor that an agent is typing."""
        socketio.emit(
            "typing",
            {"typing": typing, "name": agent.name},
            to=f"visitor:{ticket.contact}",
            namespace=NAMESPACE,
        )


def presence_changed(agent_id: int, status: str) -> None:
    """Tell the visitors of the agent's chat channels whether someone is online."""
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        return
    channels = (
        db.session.execute(
            select(Channel).where(
                Channel.kind == CHAT,
                Channel.active.is_(True),
                (Channel.team_id.in_(agent.team_ids or [-1])) | Channel.team_id.is_(None),
            )
        )
        .unique()
        .scalars()
        .all()
    )
    for channel in channels:
        socketio.emit(
            "status",
            {"online": agents_online(channel)},
            to=f"chat:{channel.id}",
            namespace=NAMESPACE,
        )


# ----- the visitors' namespace -----
