"""Notifications: one row per agent per thing that needs them, and each agent's choice of
which kinds also come by email."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.agents.models import Agent
from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model
from helpdesk.tickets.models import Ticket

# What an agent is told about: assigned to them, mentioned in an internal note, the
# customer replied on their ticket, a low rating on their ticket, an SLA due soon, a ticket
# escalated to them (the last two come from helpdesk.sla.notifications).
KINDS = ("assigned", "mention", "replied", "low_rating", "sla_warning", "escalated")
# Kinds an agent may choose to get by email (escalations always go out by email).
EMAIL_CHOICES = ("assigned", "mention", "replied", "low_rating", "sla_warning")


class Notification(Model):
    """One thing one agent is told about, unread until they mark it read."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The bell: an agent's unread ones, newest first (partial: read rows stay out).
        Index(
            "ix_notifications_unread",
            "agent_id",
            "id",
            postgresql_where=text("read_at IS NULL"),
            sqlite_where=text("read_at IS NULL"),
        ),
        # The whole list, newest first.
        Index("ix_notifications_agent", "agent_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text, default="")
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ticket: Mapped[Ticket | None] = relationship(Ticket, lazy="joined")
    actor: Mapped[Agent | None] = relationship(Agent, foreign_keys=[actor_id], lazy="joined")

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} agent={self.agent_id} ticket={self.ticket_id}>"


class NotificationSettings(Model):
    """Which kinds of notification an agent also wants by email."""

    __tablename__ = "notification_settings"
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    email_kinds: Mapped[list] = mapped_column(JSON, default=list)

    def __repr__(self) -> str:
        return f"<NotificationSettings agent={self.agent_id} email={self.email_kinds}>"
