"""The ``macros`` table: canned replies of an agent or of a team, with their actions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.agents.models import Agent, Team
from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model


class Macro(Model):
    """A canned reply with optional ticket changes (status, priority, tags, assignee)."""

    __tablename__ = "macros"
    __table_args__ = (
        # Exactly one of owner (personal) and team.
        CheckConstraint("(owner_id IS NULL) <> (team_id IS NULL)", name="one_scope"),
        Index("ix_macros_owner_name", "owner_id", "name"),
        Index("ix_macros_team_name", "team_id", "name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    # {"status": str?, "priority": str?, "tags": [str], "assignee": "me" | agent id | None}
    actions: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[Agent | None] = relationship(Agent, foreign_keys=[owner_id], lazy="joined")
    team: Mapped[Team | None] = relationship(Team, lazy="joined")

    def __repr__(self) -> str:
        scope = f"team={self.team_id}" if self.team_id else f"owner={self.owner_id}"
        return f"<Macro {self.id} {self.name!r} {scope}>"


# --- templates -----------------------------------------------------------------------
