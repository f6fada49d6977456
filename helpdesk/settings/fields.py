"""Settings: custom field definitions (``/settings/fields``), for admins.

Define a field on customers, organizations or tickets (key, label, type, a select's
options, position), change its label, options and position, or delete it with its
values. The forms validate with the API's ``CustomFieldIn``/``CustomFieldPatch`` and
write through ``fields.services`` (audited). Anyone but an admin gets 404.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.errors import HelpdeskError
from helpdesk.extensions import db
from helpdesk.fields import services
from helpdesk.fields.api import CustomFieldIn, CustomFieldPatch
from helpdesk.fields.models import APPLIES_TO, FIELD_TYPES, CustomField
from helpdesk.settings.forms import FormErrors, read, refused, validate
from helpdesk.web.pages import get_or_404, page_blueprint

bp = page_blueprint("settings_fields", __name__)


@bp.before_request
def _admins_only() -> None:
    """Field definitions are the admins'; to anyone else the section does not exist."""
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(404)


def _posted(new: bool) -> dict:
    """The posted definition as the API's body; options one a line."""
    body = read(
        text=("key", "label", "type", "applies_to") if new else ("label",), numbers=("position",)
    )
    options = [o.strip() for o in request.form.get("options", "").splitlines() if o.strip()]
    if new or options or body.get("label") is not None:
        body["options"] = options
    return body


def _form(field: CustomField | None, values: dict, errors: FormErrors | None = None, status=200):
    """The definition form."""
    return render_template(
        "settings/field.html",
        field=field,
        values=values,
        errors=errors.fields if errors else {},
        message=errors.message if errors else None,
        types=FIELD_TYPES,
        applies=APPLIES_TO,
    ), status


@bp.get("/settings/fields")
def field_list():
    """The definitions, by what they apply to, then position."""
    rows = db.session.execute(
        select(CustomField).order_by(CustomField.applies_to, CustomField.position, CustomField.id)
    ).scalars()
    return render_template("settings/fields.html", fields=list(rows))


@bp.route("/settings/fields/new", methods=["GET", "POST"])
def new_field():
    """Define a field."""
    if request.method == "GET":
        return _form(None, {"type": "text", "applies_to": "customer", "position": 0})
    body = _posted(new=True)
    try:
        field = services.create(validate(CustomFieldIn, body).model_dump())
    except (FormErrors, HelpdeskError) as exc:
        db.session.rollback()
        values = request.form.to_dict()
        return _form(None, values, exc if isinstance(exc, FormErrors) else refused(exc), 422)
    unit_of_work.commit()
    flash(_("Field %(label)s is saved.", label=field.label), "ok")
    return redirect(url_for("settings_fields.field_list"))


@bp.route("/settings/fields/<int:field_id>", methods=["GET", "POST"])
def edit_field(field_id: int):
    """Change a definition's label, a select's options or the position."""
    field = get_or_404(CustomField, field_id)
    if request.method == "GET":
        values: dict[str, object] = {
            "label": field.label,
            "position": field.position,
            "options": "\n".join(field.options or []),
        }
        return _form(field, values)
    body = _posted(new=False)
    if field.type != "select":
        body.pop("options", None)
    try:
        services.update(field, validate(CustomFieldPatch, body).model_dump(exclude_unset=True))
    except (FormErrors, HelpdeskError) as exc:
        db.session.rollback()
        return _form(
            field, request.form.to_dict(), exc if isinstance(exc, FormErrors) else refused(exc), 422
        )
    unit_of_work.commit()
    flash(_("Field %(label)s is saved.", label=field.label), "ok")
    return redirect(url_for("settings_fields.field_list"))


@bp.post("/settings/fields/<int:field_id>/delete")
def delete_field(field_id: int):
    """Delete a definition and take its values off every record."""
    field = get_or_404(CustomField, field_id)
    cleared = services.delete(field)
    unit_of_work.commit()
    flash(_("The field is deleted; %(n)s records had a value.", n=cleared), "ok")
    return redirect(url_for("settings_fields.field_list"))
