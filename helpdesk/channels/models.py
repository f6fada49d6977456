"""A configured channel: a support mailbox, a phone number, a chat widget."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.channels.sealed import SealedJSON
from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model

if TYPE_CHECKING:
    from helpdesk.agents.models import Team


class Channel(Model):
    """One inbox of one kind; routes what arrives on it to a team.

    ``settings`` holds what may be shown; ``secrets`` what must never be shown
    back or logged (passwords, identity secrets), and is stored encrypted.
    """

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("kind", "address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The support address, the E.164 number, or the chat key.
    address: Mapped[str] = mapped_column(String(320))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # Encrypted at rest under HELPDESK_SECRETS_KEY (channels/sealed.py).
    secrets: Mapped[dict] = mapped_column(SealedJSON, default=dict)
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    team: Mapped[Team | None] = relationship("Team", lazy="joined")

    def __repr__(self) -> str:
        return f"<Channel {self.kind} {self.name!r}>"

    def public(self) -> dict:
        """What may be shown of the channel: never its secrets."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "address": self.address,
            "team": self.team_id,
            "active": self.active,
            "settings": self.settings,
        }


class ChatVisitor(Model):
    """A chat visitor id handed out by ``/chat`` and the SHA-256 of its secret.

    Resuming the visitor's conversation takes the id and the secret; agents see the id
    (a ticket's contact), never the secret. ``verified``: the visitor proved a mailbox
    (the confirmation link); ``confirm_hash`` is the SHA-256 of the pending link's nonce.
    """

    __tablename__ = "chat_visitors"
    visitor: Mapped[str] = mapped_column(String(100), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    confirm_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<ChatVisitor {self.visitor}>"
