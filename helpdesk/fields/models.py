"""The definition of one custom field."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model

FIELD_TYPES = ("text", "number", "date", "select", "bool")
APPLIES_TO = ("customer", "organization", "ticket")


class CustomField(Model):
    """A field admins added to customers, organizations or tickets.

    Values live in the ``custom_fields`` JSON of the thing they belong to, under ``key``.
    """

    __tablename__ = "custom_field_definitions"
    __table_args__ = (UniqueConstraint("applies_to", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(10))
    options: Mapped[list] = mapped_column(JSON, default=list)  # the choices of a select
    applies_to: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<CustomField {self.applies_to}.{self.key} {self.type}>"
