"""Campaigns: one message to a segment's customers, and one row per recipient."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model

CHANNELS = ("email", "sms")
STATUSES = ("draft", "scheduled", "preparing", "sending", "sent", "cancelled")
# pending: to send; sending: claimed by a worker, not yet handed over (email: the final
# "." not written); sent: handed over (email: recorded before the final "."); failed;
# skipped: no consent for the channel; no_address: nothing to send it to; cancelled.
STATES = ("pending", "sending", "sent", "failed", "skipped", "no_address", "cancelled")


class Campaign(Model):
    """A message to a segment on one channel, a draft until it is sent."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(10))
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="SET NULL"), index=True
    )
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written by each batch: a campaign whose senders all died shows an old heartbeat.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    segment = relationship("Segment", lazy="joined")
    mailbox = relationship("Channel", lazy="joined")

    def __repr__(self) -> str:
        return f"<Campaign {self.id} {self.name!r} {self.status}>"


class CampaignRecipient(Model):
    """One customer of a campaign: where it goes, what became of it."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        Index("ix_campaign_recipients_claim", "campaign_id", "state", "id"),
        # The unsubscribed count without reading every row of a large campaign.
        Index("ix_campaign_recipients_unsubscribed", "campaign_id", "unsubscribed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str | None] = mapped_column(String(320), index=True)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The Message-ID we generated (email) or Twilio's MessageSid (SMS).
    provider_id: Mapped[str | None] = mapped_column(String(200), index=True)
    error: Mapped[str | None] = mapped_column(String(500))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )

    def __repr__(self) -> str:
        return f"<CampaignRecipient {self.id} campaign={self.campaign_id} {self.state}>"


class BouncedAddress(Model):
    """An address a campaign mail bounced from for good: later campaigns skip it."""

    __tablename__ = "campaign_bounced_addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<BouncedAddress {self.address}>"
