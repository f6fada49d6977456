"""What every settings form shares: a posted form read into the API's body, validated by
the API's own pydantic model, and the errors of the model or a service by field.

A form posts strings; ``read`` turns them into the JSON types the API takes (whole
numbers, booleans, lists, empty as absent) before the model sees them, so a value the API
refuses is refused here with the same message, beside its field.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError

from helpdesk.errors import HelpdeskError

M = TypeVar("M", bound=BaseModel)


class FormErrors(Exception):
    """A form's refusal: a message and the messages by field."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.message, self.fields = message, fields


def _number(value: str) -> Any:
    """A whole number where the text is one; else the text (the model names the field)."""
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        return text


def read(
    text: tuple[str, ...] = (),
    numbers: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
    lists: tuple[str, ...] = (),
    id_lists: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The posted form as a JSON-like body: ``text`` as given, ``numbers`` as integers,
    ``flags`` (checkboxes) as booleans, ``lists`` and ``id_lists`` from repeated fields.
    A field in ``optional`` left empty is sent as null (cleared)."""
    form = request.form
    body: dict[str, Any] = {}
    for name in text:
        if name in form:
            value = form[name]
            body[name] = None if name in optional and not value.strip() else value
    for name in numbers:
        if name in form:
            value = form[name]
            if value.strip():
                body[name] = _number(value)
            elif name in optional:
                body[name] = None
    for name in flags:
        body[name] = form.get(name) in ("on", "1", "true")
    for name in lists:
        body[name] = [v for v in form.getlist(name) if v.strip()]
    for name in id_lists:
        body[name] = [_number(v) for v in form.getlist(name) if v.strip()]
    return body


def validate(model: type[M], body: dict[str, Any], depth: int = 1) -> M:
    """``body`` through the API's model as the API reads it (JSON, strict, unknown fields
    refused), or FormErrors naming each field (by the first ``depth`` parts of where the
    error is: "hours.mon")."""
    try:
        return model.model_validate_json(json.dumps(body))
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"][:depth]) or "form"
            fields.setdefault(key, err["msg"])
        raise FormErrors(_("Please correct the marked fields."), fields) from exc


def refused(exc: HelpdeskError) -> FormErrors:
    """A service's refusal as a form's errors."""
    fields = {str(k): str(v) for k, v in (exc.fields or {}).items()}
    return FormErrors(exc.message, fields or {"form": exc.message})
