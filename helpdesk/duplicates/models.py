"""Pairs of customers an agent said are not the same person, and the pairs the finder
found at its last run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model


class DuplicateDismissal(Model):
    """ "Not a duplicate": the finder never offers this pair again (``customer_a_id`` is the
    smaller id). Goes with either customer."""

    __tablename__ = "duplicate_dismissals"
    __table_args__ = (
        UniqueConstraint("customer_a_id", "customer_b_id"),
        CheckConstraint("customer_a_id < customer_b_id", name="ck_duplicate_dismissals_order"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_a_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    customer_b_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<DuplicateDismissal {self.customer_a_id}/{self.customer_b_id}>"


class DuplicateCandidate(Model):
    """A pair the finder found at its last run (``refresh``), stored so that the page and
    the API read it instead of recomputing: ``customer_a_id`` is the smaller id,
    ``reasons`` the rules that matched (finder.REASONS order). Goes with either customer."""

    __tablename__ = "duplicate_candidates"
    __table_args__ = (
        UniqueConstraint("customer_a_id", "customer_b_id"),
        CheckConstraint("customer_a_id < customer_b_id", name="ck_duplicate_candidates_order"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_a_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    customer_b_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    reasons: Mapped[list[str]] = mapped_column(JSON)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<DuplicateCandidate {self.customer_a_id}/{self.customer_b_id}>"
