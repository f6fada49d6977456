"""Outbound webhooks: the endpoints admins register and one delivery row per (webhook,
event), whose state (tries, the next attempt, the last answer) survives a worker restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.channels.sealed import SealedJSON
from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model

# The events a webhook may subscribe to (docs/webhooks.md says what each carries).
EVENTS = (
    "ticket.created",
    "ticket.updated",
    "message.created",
    "customer.created",
    "customer.updated",
    "call.incoming",
)
STATUSES = ("pending", "delivered", "failed")


class Webhook(Model):
    """An endpoint told about ``events``; its secret signs every delivery (encrypted at rest
    like channel secrets: ``{"secret": ...}`` in a sealed column)."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(JSON, default=list)
    secrets: Mapped[dict] = mapped_column(SealedJSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def secret(self) -> str:
        """The signing secret (never shown after its creation)."""
        return str((self.secrets or {}).get("secret", ""))


class WebhookDelivery(Model):
    """One event for one webhook: the exact body sent on every try (so a receiver sees the
    same delivery again under the same ``uid``), and how the tries went."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The delivery log of a webhook, newest first.
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
        # The periodic requeue: deliveries still to send, by when they are due (partial).
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)  # X-Helpdesk-Delivery
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    tries: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None]
    last_response: Mapped[str | None] = mapped_column(String(500))
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_duration_ms: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    webhook: Mapped[Webhook] = relationship(lazy="joined")
