"""Checking custom field values against their definitions.

Every writer of ``custom_fields`` (the API, the pages, the CSV import) hands the values
it got to :func:`clean_values`, which answers them typed and normalised, or raises
:class:`~helpdesk.errors.Invalid` naming each bad field as ``custom_fields.KEY``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import JSON, ColumnElement, cast, func, literal, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import JSONB

from helpdesk.audit.services import changes, record
from helpdesk.customers.models import Customer, Organization
from helpdesk.errors import Conflict, Invalid
from helpdesk.extensions import db
from helpdesk.fields.models import APPLIES_TO, CustomField
from helpdesk.tickets.models import Ticket

TRUE = {"true", "1", "yes", "ja", "y", "x"}
FALSE = {"false", "0", "no", "nein", "n", ""}
MAX_TEXT = 2000
BATCH = 500  # rows whose values a deleted definition takes away, per statement
CARRIERS: dict[str, type[Customer] | type[Organization] | type[Ticket]] = {
    "customer": Customer,
    "organization": Organization,
    "ticket": Ticket,
}


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


# ----- the definitions (admins, through the API) --------------------------------------


def _snapshot(field: CustomField) -> dict:
    """What the audit log keeps of a definition."""
    return {
        "key": field.key,
        "label": field.label,
        "type": field.type,
        "options": list(field.options or []),
        "applies_to": field.applies_to,
        "position": field.position,
    }


def _check_options(field_type: str, options: list[str]) -> list[str]:
    """A select needs options (each once); other types take none."""
    if field_type == "select" and not options:
        raise Invalid("a select needs its options", {"options": "give at least one option"})
    if field_type != "select" and options:
        raise Invalid("only a select has options", {"options": f"a {field_type} has none"})
    return list(dict.fromkeys(options))


def create(data: dict) -> CustomField:
    """Define a field; the key is unique among the fields of the same records (409)."""
    taken = db.session.scalar(
        select(CustomField.id).where(
            CustomField.applies_to == data["applies_to"], CustomField.key == data["key"]
        )
    )
    if taken is not None:
        raise Conflict(
            f"a {data['applies_to']} field with the key {data['key']} exists",
            {"key": "already used"},
        )
    field = CustomField(**{**data, "options": _check_options(data["type"], data["options"])})
    db.session.add(field)
    db.session.flush()
    record(
        "custom_field.create",
        object_type="custom_field",
        object_id=field.id,
        after=_snapshot(field),
    )
    return field


def update(field: CustomField, data: dict) -> CustomField:
    """Change the label, a select's options or the position. Values stored before an
    option was removed stay as they are; new values must be one of the options."""
    before = _snapshot(field)
    if data.get("label") is not None:
        field.label = data["label"]
    if data.get("options") is not None:
        field.options = _check_options(field.type, data["options"])
    if data.get("position") is not None:
        field.position = data["position"]
    db.session.flush()
    was, now = changes(before, _snapshot(field))
    if now:
        record(
            "custom_field.update",
            object_type="custom_field",
            object_id=field.id,
            before=was,
            after=now,
        )
    return field


def delete(field: CustomField) -> int:
    """Delete a definition and take its values off every record carrying one, in batches of
    BATCH rows; answers how many records had a value."""
    model = CARRIERS[field.applies_to]
    column = model.__table__.c.custom_fields
    has_value: ColumnElement[Any]
    without: ColumnElement[Any]
    if db.session.get_bind().dialect.name == "postgresql":
        has_value = cast(column, JSONB).has_key(field.key)
        without = cast(cast(column, JSONB).op("-")(literal(field.key)), JSON)
    else:
        path = f'$."{field.key}"'  # keys are slugs: nothing to quote inside
        has_value = func.json_type(column, path).is_not(None)
        without = func.json_remove(column, path)
    cleared = 0
    while True:
        ids = db.session.scalars(select(model.id).where(has_value).limit(BATCH)).all()
        if not ids:
            break
        db.session.execute(
            sql_update(model)
            .where(model.id.in_(ids))
            .values(custom_fields=without)
            .execution_options(synchronize_session=False)
        )
        cleared += len(ids)
    for row in list(db.session.identity_map.values()):
        if isinstance(row, model):
            db.session.expire(row, ["custom_fields"])
    record(
        "custom_field.delete",
        object_type="custom_field",
        object_id=field.id,
        before={**_snapshot(field), "values_removed": cleared},
    )
    db.session.delete(field)
    db.session.flush()
    return cleared
