"""Checking custom field values against their definitions.

Every writer of ``custom_fields`` (the API, the pages, the CSV import) hands the values
it got to :func:`clean_values`, which answers them typed and normalised, or raises
:class:`~helpdesk.errors.Invalid` naming each bad field as ``custom_fields.KEY``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.fields.models import APPLIES_TO, CustomField

TRUE = {"true", "1", "yes", "ja", "y", "x"}
FALSE = {"false", "0", "no", "nein", "n", ""}
MAX_TEXT = 2000


def definitions(applies_to: str) -> dict[str, CustomField]:
    """The fields defined for customers, organizations or tickets, by key, in order."""
    if applies_to not in APPLIES_TO:
        raise ValueError(applies_to)
    rows = db.session.scalars(
        select(CustomField)
        .where(CustomField.applies_to == applies_to)
        .order_by(CustomField.position, CustomField.id)
    )
    return {field.key: field for field in rows}


def clean_value(field: CustomField, value: Any) -> Any:
    """``value`` as ``field`` stores it (None clears it); ValueError when it does not fit.

    Strings are accepted for every type, as a CSV file or a form sends them: numbers
    with a decimal point or comma, dates as ISO ``YYYY-MM-DD``, booleans as
    true/false/yes/no/ja/nein/1/0.
    """
    if value is None or (isinstance(value, str) and not value.strip() and field.type != "bool"):
        return None
    if field.type == "text":
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("must be text")
        text = str(value).strip()
        if len(text) > MAX_TEXT:
            raise ValueError(f"at most {MAX_TEXT} characters")
        return text
    if field.type == "number":
        if isinstance(value, bool):
            raise ValueError("must be a number")
        if isinstance(value, int | float):
            number = Decimal(str(value))
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip().replace(",", "."))
            except InvalidOperation:
                raise ValueError("must be a number") from None
        else:
            raise ValueError("must be a number")
        if not number.is_finite():
            raise ValueError("must be a finite number")
        return int(number) if number == number.to_integral_value() else float(number)
    if field.type == "date":
        if not isinstance(value, str):
            raise ValueError("must be a date (YYYY-MM-DD)")
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise ValueError("must be a date (YYYY-MM-DD)") from None
    if field.type == "select":
        if not isinstance(value, str) or value.strip() not in (field.options or []):
            raise ValueError("must be one of: " + ", ".join(field.options or []))
        return value.strip()
    if field.type == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
            return value.strip().lower() in TRUE
        raise ValueError("must be true or false")
    raise ValueError(f"unknown field type {field.type}")


def clean_values(applies_to: str, values: Any, current: dict | None = None) -> dict:
    """Check ``values`` ({KEY: value}) against the definitions; answer the stored dict.

    ``current`` (an update): the values already stored, which ``values`` changes key by
    key; None clears a key. Undefined keys and values of the wrong type raise Invalid
    with every bad field named.
    """
    if not isinstance(values, dict):
        raise Invalid("custom_fields must be an object", {"custom_fields": "must be an object"})
    defined = definitions(applies_to)
    result = dict(current or {})
    errors: dict[str, str] = {}
    for key, value in values.items():
        field = defined.get(key)
        if field is None:
            errors[f"custom_fields.{key}"] = "no such custom field"
            continue
        try:
            cleaned = clean_value(field, value)
        except ValueError as exc:
            errors[f"custom_fields.{key}"] = str(exc)
            continue
        if cleaned is None:
            result.pop(key, None)
        else:
            result[key] = cleaned
    if errors:
        raise Invalid("invalid custom field values", errors)
    return result
