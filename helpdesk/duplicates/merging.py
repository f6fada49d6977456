"""Merging two customers into one: what moves, whose values win, the audit record;
and the preview of all that before it runs (a merge deletes the other customer and its
consents, so it is not undone: it is shown first)."""

from __future__ import annotations

import logging

from sqlalchemy import update

from helpdesk.audit import services as audit
from helpdesk.audit import snapshots
from helpdesk.customers import consents
from helpdesk.customers.models import Customer, Identity, Note, Order
from helpdesk.errors import Invalid
from helpdesk.extensions import db

log = logging.getLogger(__name__)


# The fields a merge may take from either side (``keep``); by default ``into``'s value
# wins where it has one.
MERGE_CHOICES = ("name", "title", "organization_id", "language", "preferred_channel")


def merged_values(into: Customer, other: Customer, keep: dict[str, str] | None = None) -> dict:
    """The values of MERGE_CHOICES after a merge: the side ``keep`` names ("into" or
    "from") for each field, falling back to the other side's where the chosen one is empty."""
    keep = keep or {}
    values = {}
    for field in MERGE_CHOICES:
        mine, theirs = getattr(into, field), getattr(other, field)
        first, second = (theirs, mine) if keep.get(field) == "from" else (mine, theirs)
        values[field] = first if first not in (None, "") else second
    return values


def merge(into: Customer, other: Customer, keep: dict[str, str] | None = None) -> Customer:
    """Fold ``other`` into ``into``: identities, tickets, calls, orders, notes, tags;
    ``keep`` chooses whose name, title, organization, language and preferred channel win
    (see merged_values). Audited: both customers as they were, and what moved."""
    from helpdesk.tickets.models import Call, Ticket

    if into.id == other.id:
        raise Invalid("a customer cannot be merged into itself", fields={"from": "same id"})
    before = {
        "into": snapshots.customer_snapshot(into),
        "from": {"id": other.id, **snapshots.customer_snapshot(other)},
    }
    moved = snapshots.owned_counts(other.id)
    values = merged_values(into, other, keep)
    consents.merge(into, other)
    for model in (Ticket, Call, Order, Note):
        db.session.execute(
            update(model).where(model.customer_id == other.id).values(customer_id=into.id)
        )
    db.session.execute(
        update(Identity).where(Identity.customer_id == other.id).values(customer_id=into.id)
    )
    into.tags = sorted(set(into.tags or []) | set(other.tags or []))
    into.custom_fields = {**(other.custom_fields or {}), **(into.custom_fields or {})}
    for field, value in values.items():
        setattr(into, field, value)
    for field in ("account_manager_id", "street", "postcode", "city", "country"):
        if getattr(into, field) is None:  # filled in from the other where into has none
            setattr(into, field, getattr(other, field))
    into.last_contact_at = max(
        filter(None, [into.last_contact_at, other.last_contact_at]), default=None
    )
    db.session.flush()
    db.session.expire(other)
    db.session.delete(other)
    db.session.flush()
    db.session.expire(into, ["identities"])
    after = {"customer": snapshots.customer_snapshot(into), "moved": moved}
    audit.record(
        "customer.merge",
        object_type="customer",
        object_id=into.id,
        customer_id=into.id,
        before=before,
        after=after,
    )
    audit.record(
        "customer.merged_into",
        object_type="customer",
        object_id=other.id,
        customer_id=other.id,
        after={"into": into.id, "moved": moved},
    )
    log.info("merged customer %s into %s", other.id, into.id)
    return into


def preview(into: Customer, other: Customer, keep: dict[str, str] | None = None) -> dict:
    """What ``merge(into, other, keep)`` would do, without doing it: the rows that move
    from ``other`` to ``into`` (counts), the values that win, and the merged tags and
    addresses."""
    if into.id == other.id:
        raise Invalid("a customer cannot be merged into itself", fields={"from": "same id"})
    values = merged_values(into, other, keep)
    return {
        "into": into.id,
        "from": other.id,
        "moves": snapshots.owned_counts(other.id),
        "values": {
            "name": values["name"],
            "title": values["title"],
            "organization": values["organization_id"],
            "language": values["language"],
            "preferred_channel": values["preferred_channel"],
        },
        "emails": into.values("email") + other.values("email"),
        "phones": into.values("phone") + other.values("phone"),
        "tags": sorted(set(into.tags or []) | set(other.tags or [])),
        "deleted": other.id,
    }
