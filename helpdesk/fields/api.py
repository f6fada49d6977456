"""REST API v1 for custom field definitions: everyone reads them, admins write them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents.auth import require_role
from helpdesk.errors import Invalid
from helpdesk.fields import services
from helpdesk.fields.models import APPLIES_TO, FIELD_TYPES, CustomField
from helpdesk.web.api import api_blueprint, get_or_404, paginate, parse_body
from helpdesk.web.openapi import Param, Shape, documented

bp = api_blueprint("fields_api", __name__, lock_writes=True)

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Option = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
FieldType = Literal[FIELD_TYPES]  # type: ignore[valid-type]
AppliesTo = Literal[APPLIES_TO]  # type: ignore[valid-type]


class _Strict(BaseModel):
    """Strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class CustomFieldIn(_Strict):
    """POST /custom-fields: a new field; ``options`` only (and required) for a select."""

    key: Key
    label: Label
    type: FieldType
    applies_to: AppliesTo
    options: list[Option] = Field(default_factory=list, max_length=200)
    position: int = Field(default=0, ge=0, le=10_000)


class CustomFieldPatch(_Strict):
    """PATCH /custom-fields/ID: the label, a select's options, the position. The key, type
    and what it applies to stay: the stored values are written under them."""

    label: Label | None = None
    options: list[Option] | None = Field(default=None, max_length=200)
    position: int | None = Field(default=None, ge=0, le=10_000)


class CustomFieldOut(Shape):
    """A custom field definition."""

    id: int
    key: str
    label: str
    type: str
    options: list[str]
    applies_to: str
    position: int


def field_json(field: CustomField) -> dict[str, Any]:
    """A definition as the API shows it."""
    return {
        "id": field.id,
        "key": field.key,
        "label": field.label,
        "type": field.type,
        "options": list(field.options or []),
        "applies_to": field.applies_to,
        "position": field.position,
    }


@bp.get("/custom-fields")
@documented(
    CustomFieldOut,
    paged=True,
    query=[Param("applies_to", {"enum": list(APPLIES_TO)}, "customer, organization or ticket")],
)
def list_fields():
    """The definitions, by what they apply to, then position."""
    query = select(CustomField).order_by(
        CustomField.applies_to, CustomField.position, CustomField.id
    )
    applies_to = request.args.get("applies_to")
    if applies_to is not None:
        if applies_to not in APPLIES_TO:
            raise Invalid(
                "no such kind of record", fields={"applies_to": "customer, organization or ticket"}
            )
        query = query.where(CustomField.applies_to == applies_to)
    return jsonify(paginate(query, field_json))


@bp.post("/custom-fields")
@require_role("admin")
@documented(CustomFieldOut, status=201, body=CustomFieldIn)
def create_field():
    """Define a field (admins); a key already used for the same records answers 409."""
    field = services.create(parse_body(CustomFieldIn).model_dump())
    unit_of_work.commit()
    return jsonify(field_json(field)), 201


@bp.get("/custom-fields/<int:field_id>")
@documented(CustomFieldOut)
def get_field(field_id: int):
    """One definition."""
    return jsonify(field_json(get_or_404(CustomField, field_id, "custom field")))


@bp.patch("/custom-fields/<int:field_id>")
@require_role("admin")
@documented(CustomFieldOut, body=CustomFieldPatch)
def update_field(field_id: int):
    """Change a definition's label, options or position (admins)."""
    field = get_or_404(CustomField, field_id, "custom field")
    services.update(field, parse_body(CustomFieldPatch).model_dump(exclude_unset=True))
    unit_of_work.commit()
    return jsonify(field_json(field))


@bp.delete("/custom-fields/<int:field_id>")
@require_role("admin")
@documented(None, status=204)
def delete_field(field_id: int):
    """Delete a definition and its values on every record that carries one (admins)."""
    services.delete(get_or_404(CustomField, field_id, "custom field"))
    unit_of_work.commit()
    return "", 204
