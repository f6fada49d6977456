"""API models for notifications: what marking them read takes, what the API answers."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from helpdesk.customers.schemas import Id, Strict
from helpdesk.web.openapi import Ref, Shape


class ReadIn(Strict):
    """POST /notifications/read: the ids to mark read, or ``all``."""

    ids: Annotated[list[Id], Field(max_length=500)] | None = None
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> ReadIn:
        if (self.ids is None) == (not self.all):
            raise ValueError("give either ids or all: true")
        return self


class TicketRef(Shape):
    """The ticket a notification is about."""

    id: int
    number: int | None
    subject: str | None


class NotificationOut(Shape):
    """One notification of the calling agent."""

    id: int
    kind: str
    title: str
    text: str
    ticket: TicketRef | None
    actor: Ref | None
    read_at: str | None
    created_at: str | None


class ReadOut(Shape):
    """How many notifications became read, and how many are still unread."""

    marked: int
    unread: int
