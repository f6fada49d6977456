"""Orders from the shop or ERP: upsert by their own number; the purchase history."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select

from helpdesk.customers.models import Order, OrderLine
from helpdesk.customers.services import customer_for
from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db

log = logging.getLogger(__name__)
ORDER_FIELDS = (
    "status",
    "total",
    "currency",
    "carrier",
    "tracking_number",
    "tracking_url",
    "expected_delivery",
    "ordered_at",
)
# Listeners called as fn(order, previous_status) after a status change is flushed.
_status_listeners: list[Callable[[Order, str], object]] = []


def on_status_change(listener: Callable[[Order, str], object]) -> None:
    """Register ``listener(order, previous_status)`` for order status changes."""
    if listener not in _status_listeners:
        _status_listeners.append(listener)


def upsert(number: str, data: dict) -> tuple[Order, bool]:
    """Create or update the order ``number``; return it and whether it was created."""
    number = number.strip()
    if not number or len(number) > 64:
        raise Invalid("order numbers are 1 to 64 characters", fields={"number": "bad length"})
    order = db.session.execute(select(Order).where(Order.number == number)).scalar_one_or_none()
    created = order is None
    names_owner = any(
        data.get(k) is not None for k in ("customer", "customer_email", "customer_phone")
    )
    if order is None:  # i.e. created
        order = Order(number=number, customer=customer_for(data))
        db.session.add(order)
    elif names_owner:
        order.customer_id = customer_for(data).id
    previous = None if created else order.status
    for field in ORDER_FIELDS:
        if field in data and (data[field] is not None or field not in ("status", "ordered_at")):
            setattr(order, field, data[field])
    if "lines" in data:
        order.lines = [OrderLine(**line) for line in data["lines"]]
    db.session.flush()
    if previous is not None and previous != order.status:
        for listener in _status_listeners:
            listener(order, previous)
    return order, created


def get_by_number(number: str) -> Order:
    """The order with this number."""
    order = db.session.execute(select(Order).where(Order.number == number)).scalar_one_or_none()
    if order is None:
        raise NotFound("no such order")
    return order
