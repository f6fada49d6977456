"""A segment linked to a MailChimp audience (list), with the secret of the webhook URL
MailChimp calls back (encrypted at rest) and how the last sync went."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.channels.sealed import SealedJSON
from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model
from helpdesk.segments.models import Segment


class MailchimpAudience(Model):
    """``segment`` kept in sync with the MailChimp audience ``list_id``."""

    __tablename__ = "mailchimp_audiences"
    __table_args__ = (UniqueConstraint("segment_id", "list_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    list_id: Mapped[str] = mapped_column(String(100), index=True)
    secrets: Mapped[dict] = mapped_column(SealedJSON, default=dict)  # {"webhook": ...}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_result: Mapped[dict | None] = mapped_column(JSON)

    segment: Mapped[Segment] = relationship(lazy="joined")
