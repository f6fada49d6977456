"""The SLA policies: targets in business minutes, matched by organization, channel, priority."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model


class SlaPolicy(Model):
    """Targets in business minutes for first response, next response and resolution.

    A ticket takes the most specific policy that matches it: organization before channel
    before priority; a column left empty matches anything. A target left empty is not
    measured.
    """

    __tablename__ = "sla_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    priority: Mapped[str | None] = mapped_column(String(10))
    channel: Mapped[str | None] = mapped_column(String(10))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<SlaPolicy {self.id} {self.name!r}>"
