"""A satisfaction survey: one per solved ticket, asked on the ticket's channel."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model
from helpdesk.tickets.models import Ticket


def hash_token(token: str) -> str:
    """SHA-256 of a survey link's token (only the hash is stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


class Survey(Model):
    """How the customer rated the help on one ticket: asked once, answered at most once."""

    __tablename__ = "surveys"
    __table_args__ = (
        # The chat and SMS answers ("reply 1-5"): the customer's open survey on a channel.
        Index("ix_surveys_customer_channel", "customer_id", "channel", "answered_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: a ticket is asked once, however often it is solved.
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(2), default="en")
    # The link's token (email): its SHA-256; the token itself is only in the mail.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket: Mapped[Ticket] = relationship(Ticket, lazy="joined")

    def __repr__(self) -> str:
        return f"<Survey {self.id} ticket={self.ticket_id} rating={self.rating}>"

    def open(self, now: datetime) -> bool:
        """Whether the survey still takes an answer."""
        return self.answered_at is None and self.expires_at > now
