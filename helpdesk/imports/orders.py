"""What one row of an order file does: the order created or updated (``orders.upsert``).

Columns: number, customer_email / customer_phone / customer_id, customer_name, status,
total, currency, ordered_at, carrier, tracking_number, tracking_url, expected_delivery,
lines (``sku|name|quantity|unit_price`` items separated by ``;``).
"""

from __future__ import annotations

from typing import Any

from helpdesk.customers import orders
from helpdesk.customers.schemas import OrderIn
from helpdesk.extensions import db
from helpdesk.imports.csvfile import Refused

COLUMNS = tuple(
    "number customer_email customer_phone customer_id customer_name status total currency "
    "ordered_at carrier tracking_number tracking_url expected_delivery lines".split()
)


def _split(value: str) -> list[str]:
    """The ``;``-separated values of a cell."""
    return [part.strip() for part in value.split(";") if part.strip()]


def load(row: dict[str, str]) -> None:
    """Create or update the order of one row."""
    number = row.get("number")
    if not number:
        raise Refused("number is missing")
    data: dict[str, Any] = {
        key: row[key]
        for key in (
            "customer_email",
            "customer_phone",
            "customer_name",
            "ordered_at",
            "carrier",
            "tracking_number",
            "tracking_url",
            "expected_delivery",
        )
        if key in row
    }
    if "customer_id" in row:
        data["customer"] = row["customer_id"]
    if "status" in row:
        data["status"] = row["status"].lower()
    if "currency" in row:
        data["currency"] = row["currency"].upper()
    if "total" in row:
        data["total"] = _amount(row["total"])
    if "lines" in row:
        data["lines"] = [_line(item, n) for n, item in enumerate(_split(row["lines"]), 1)]
    fields = OrderIn.model_validate(data, strict=False).model_dump(exclude_unset=True)
    with db.session.begin_nested():
        orders.upsert(number, fields)


def _line(item: str, n: int) -> dict:
    """One ``sku|name|quantity|unit_price`` item of the lines column."""
    parts = [part.strip() for part in item.split("|")]
    if not 2 <= len(parts) <= 4:
        raise Refused(f"lines item {n}: write sku|name|quantity|unit_price, got {item[:60]!r}")
    line = {"sku": parts[0] or None, "name": parts[1]}
    if len(parts) > 2 and parts[2]:
        line["quantity"] = parts[2]
    if len(parts) > 3 and parts[3]:
        line["unit_price"] = _amount(parts[3])
    return line


def _amount(value: str) -> str:
    """An amount as written in Germany ("12,50") read as "12.50"; others unchanged."""
    if value.count(",") == 1 and "." not in value:
        return value.replace(",", ".")
    return value
