"""Segment bodies (pydantic, strict) and what the API answers about a segment."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from helpdesk.customers.schemas import CustomerOut, Strict
from helpdesk.db import iso
from helpdesk.segments.models import Segment
from helpdesk.web.openapi import Shape

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Value = Annotated[str, StringConstraints(max_length=320)]
Filter = Annotated[
    dict[Annotated[str, StringConstraints(max_length=100)], Value | list[Value]],
    Field(max_length=40),
]


class SegmentIn(Strict):
    """A new segment: a name, the customer list's filter ({key: value}), shared or not."""

    name: Name
    filter: Filter = Field(default_factory=dict)
    shared: bool = False


class SegmentPatch(Strict):
    """What may change on a segment."""

    name: Name | None = None
    filter: Filter | None = None
    shared: bool | None = None


class SegmentOut(Shape):
    """A segment (``segment_json``); ``owner`` is an agent id."""

    id: int
    name: str
    filter: dict[str, Any]
    shared: bool
    owner: int | None
    created_at: str | None
    updated_at: str | None


class SegmentCustomersOut(Shape):
    """One page of a segment's customers, evaluated now, with how many match."""

    items: list[CustomerOut]
    next: str | None
    count: int


def segment_json(segment: Segment) -> dict[str, Any]:
    """A segment."""
    return {
        "id": segment.id,
        "name": segment.name,
        "filter": dict(segment.filter or {}),
        "shared": segment.shared,
        "owner": segment.owner_id,
        "created_at": iso(segment.created_at),
        "updated_at": iso(segment.updated_at),
    }
