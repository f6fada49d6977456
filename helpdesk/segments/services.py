"""Segments: save, read, change and evaluate saved customer filters.

A segment is its filter, evaluated whenever it is read (never a frozen list), through
``customers.search`` and so through the reader's access rule. Shared segments are read
by every agent; private ones only by their owner (and admins), 404 to anyone else;
only the owner and admins change or delete one.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from helpdesk.customers import search
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.segments.models import Segment
from helpdesk.web.args import get_row


def _sees_all(agent) -> bool:
    """Admins read every segment, except an admin who sees only their own accounts (a
    private segment's filter may name someone else's customers)."""
    return bool(agent.is_admin and not agent.own_accounts_only)


def readable(agent):
    """A SQL condition: the segments ``agent`` may read."""
    if _sees_all(agent):
        return Segment.id.is_not(None)
    return or_(Segment.shared.is_(True), Segment.owner_id == agent.id)


def listed(agent) -> list[Segment]:
    """The segments ``agent`` may read: their own first, then the shared ones, by name."""
    query = (
        select(Segment)
        .where(readable(agent))
        .order_by((Segment.owner_id == agent.id).desc(), Segment.name, Segment.id)
    )
    return list(db.session.scalars(query))


def get(segment_id: int, agent, change: bool = False) -> Segment:
    """A segment ``agent`` may read (``change``: may also change); NotFound otherwise
    (Forbidden for a shared segment of someone else that they want to change)."""
    segment = get_row(Segment, segment_id)
    if segment is None or not (_sees_all(agent) or segment.shared or segment.owner_id == agent.id):
        raise NotFound("no such segment")
    if change and not (_sees_all(agent) or segment.owner_id == agent.id):
        raise Forbidden("only its owner and admins change a segment")
    return segment


def parse_filter(raw: dict) -> search.CustomerFilter:
    """A filter given in a body, checked by the list's own parser; a bad one raises
    Invalid naming ``filter.KEY``."""
    try:
        return search.parse(raw, strict=True)
    except Invalid as exc:
        fields = {f"filter.{k}": v for k, v in (exc.fields or {}).items()}
        raise Invalid(exc.message, fields=fields) from None


def checked_filter(raw: dict) -> dict:
    """A segment's filter as stored: checked, its canonical arguments without the sort."""
    return parse_filter(raw).without_sort()


def create(agent, name: str, raw_filter: dict, shared: bool) -> Segment:
    """Save a filter as a segment of ``agent``."""
    segment = Segment(
        name=name, filter=checked_filter(raw_filter), shared=shared, owner_id=agent.id
    )
    db.session.add(segment)
    db.session.flush()
    return segment


def update(segment: Segment, data: dict) -> Segment:
    """Change a segment's name, filter or sharing (only the keys given)."""
    if "name" in data and data["name"] is not None:
        segment.name = data["name"]
    if "filter" in data and data["filter"] is not None:
        segment.filter = checked_filter(data["filter"])
    if "shared" in data and data["shared"] is not None:
        segment.shared = data["shared"]
    db.session.flush()
    return segment


def delete(segment: Segment) -> None:
    """Delete a segment (its customers stay, of course)."""
    db.session.delete(segment)
    db.session.flush()


def customer_filter(segment: Segment, sort: str | None = None) -> search.CustomerFilter:
    """The segment's filter as the list parses it (with ``sort`` when given)."""
    raw = dict(segment.filter or {})
    if sort:
        raw["sort"] = sort
    return search.parse(raw)


def counts(segments: list[Segment], agent) -> dict[int, int | None]:
    """How many customers each segment matches now, for ``agent``, counted up to
    ``search.TOTAL_CAP + 1`` (None: its filter no longer parses, e.g. a custom field was
    deleted)."""
    result: dict[int, int | None] = {}
    for segment in segments:
        try:
            wanted = customer_filter(segment)
            result[segment.id] = search.count(wanted, agent, cap=search.TOTAL_CAP)
        except Invalid:  # a stale filter must not break the sidebar
            result[segment.id] = None
    return result
