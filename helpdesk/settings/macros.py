"""Settings: macros (``/settings/macros``): every agent's personal ones, and the shared
macros of a team (made and changed by the team's leads and admins).

The list is what the agent may use (``macros.visible``); a macro they may not see
answers 404, one they may see but not change opens read-only. The forms validate with
the API's ``MacroIn``/``MacroPatch`` and write through ``automation.macros.services``.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents.models import Team
from helpdesk.automation.macros import services as macros
from helpdesk.automation.macros.models import Macro
from helpdesk.errors import HelpdeskError, NotFound
from helpdesk.extensions import db
from helpdesk.settings.forms import FormErrors, read, refused, validate
from helpdesk.tickets.models import PRIORITIES, STATUSES
from helpdesk.tickets.schemas import MacroIn, MacroPatch
from helpdesk.web.pages import page_blueprint

bp = page_blueprint("settings_macros", __name__)


def _team_choices() -> list[Team]:
    """The teams the agent may make shared macros for (none for an agent)."""
    if current_user.role == "agent":
        return []
    query = select(Team).order_by(Team.name)
    if not current_user.is_admin:
        query = query.where(Team.id.in_(current_user.team_ids or [-1]))
    return list(db.session.execute(query).unique().scalars())


def _posted(new: bool) -> dict:
    """The posted macro as the API's body (the team only when new: it stays)."""
    body = read(text=("name", "body"), numbers=("team",) if new else (), optional=("team",))
    names = ("status", "priority", "assignee")
    actions = read(text=names, optional=names)
    assignee = actions.get("assignee")
    if assignee and assignee != "me" and assignee.isdigit():
        actions["assignee"] = int(assignee)  # an agent's id; anything else the model refuses
    tags = [t.strip() for t in request.form.get("tags", "").split(",") if t.strip()]
    body["actions"] = {**actions, "tags": tags}
    return body


def _form(macro: Macro | None, values: dict, errors: FormErrors | None = None, status=200):
    """The macro form, read-only when the agent may not change the macro."""
    return render_template(
        "settings/macro.html",
        macro=macro,
        editable=macro is None or macros.can_edit(current_user, macro),
        values=values,
        errors=errors.fields if errors else {},
        message=errors.message if errors else None,
        teams=_team_choices(),
        statuses=STATUSES,
        priorities=PRIORITIES,
        placeholders=macros.PLACEHOLDERS,
    ), status


def _values(macro: Macro) -> dict:
    """A macro as the form shows it."""
    data = macros.macro_json(macro)
    actions = data["actions"]
    return {
        "name": macro.name,
        "body": macro.body,
        "team": macro.team_id,
        "status": actions["status"],
        "priority": actions["priority"],
        "assignee": actions["assignee"],
        "tags": ", ".join(actions["tags"]),
    }


@bp.get("/settings/macros")
def macro_list():
    """The macros the agent may use: personal first, then each team's."""
    rows = list(db.session.execute(macros.visible(current_user).limit(500)).unique().scalars())
    return render_template(
        "settings/macros.html",
        personal=[m for m in rows if m.owner_id is not None],
        shared=[m for m in rows if m.team_id is not None],
        can_edit=lambda m: macros.can_edit(current_user, m),
    )


@bp.route("/settings/macros/new", methods=["GET", "POST"])
def new_macro():
    """Write a personal macro, or (leads and admins) a team's."""
    if request.method == "GET":
        return _form(None, {})
    body = _posted(new=True)
    try:
        macro = macros.create(validate(MacroIn, body, depth=2).model_dump(), current_user)
    except (FormErrors, HelpdeskError) as exc:
        db.session.rollback()
        values = {**request.form.to_dict()}
        return _form(None, values, exc if isinstance(exc, FormErrors) else refused(exc), 422)
    unit_of_work.commit()
    flash(_("Macro %(name)s is saved.", name=macro.name), "ok")
    return redirect(url_for("settings_macros.macro_list"))


def _visible(macro_id: int) -> Macro:
    """A macro the agent may use, else 404."""
    try:
        return macros.usable(current_user, macro_id)
    except NotFound:
        abort(404)


@bp.route("/settings/macros/<int:macro_id>", methods=["GET", "POST"])
def edit_macro(macro_id: int):
    """Change a macro (its owner; a team's: the team's leads and admins)."""
    macro = _visible(macro_id)
    if request.method == "GET":
        return _form(macro, _values(macro))
    body = _posted(new=False)
    try:
        macros.update(
            macro.id,
            validate(MacroPatch, body, depth=2).model_dump(exclude_unset=True),
            current_user,
        )
    except (FormErrors, HelpdeskError) as exc:
        db.session.rollback()
        values = {**request.form.to_dict(), "team": macro.team_id}
        return _form(macro, values, exc if isinstance(exc, FormErrors) else refused(exc), 422)
    unit_of_work.commit()
    flash(_("Macro %(name)s is saved.", name=macro.name), "ok")
    return redirect(url_for("settings_macros.macro_list"))


@bp.post("/settings/macros/<int:macro_id>/delete")
def delete_macro(macro_id: int):
    """Remove a macro (same rule as changing it)."""
    macro = _visible(macro_id)
    try:
        macros.delete(macro.id, current_user)
    except HelpdeskError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("settings_macros.edit_macro", macro_id=macro.id))
    unit_of_work.commit()
    flash(_("The macro is removed."), "ok")
    return redirect(url_for("settings_macros.macro_list"))
