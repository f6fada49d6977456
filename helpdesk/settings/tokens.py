"""Settings: API tokens (``/settings/tokens``): the agent's own (an admin sees everyone's).

A new token is shown on the page that answers its creation, once; only its hash is
stored, so no later page can show it. The form validates with the API's ``TokenIn`` and
issues through the same code as ``POST /api/v1/tokens``.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from helpdesk import unit_of_work
from helpdesk.agents import services
from helpdesk.agents import tokens_api as tokens
from helpdesk.errors import HelpdeskError, NotFound
from helpdesk.extensions import db
from helpdesk.settings.forms import FormErrors, read, refused, validate
from helpdesk.web.pages import page_blueprint

bp = page_blueprint("settings_tokens", __name__)


def _page(values: dict, errors: FormErrors | None = None, clear: str | None = None, status=200):
    """The token list and the form to make one (``clear``: the new token, shown now)."""
    rows = list(db.session.execute(tokens.visible_tokens(current_user).limit(200)).scalars())
    response = render_template(
        "settings/tokens.html",
        tokens=rows,
        state=services.token_state,
        values=values,
        errors=errors.fields if errors else {},
        message=errors.message if errors else None,
        clear=clear,
    )
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/settings/tokens")
def token_list():
    """The tokens the agent may see, newest first."""
    return _page({})


@bp.post("/settings/tokens")
def create_token():
    """Make a token for the signed-in agent and show it this once."""
    body = read(text=("name", "expires_at"), optional=("expires_at",))
    if body.get("expires_at"):
        body["expires_at"] = body["expires_at"].strip() + "T23:59:59Z"  # the end of that day
    try:
        data = validate(tokens.TokenIn, body)
        _row, clear = tokens.create(current_user, data.name, data.expires_at)
    except (FormErrors, HelpdeskError) as exc:
        db.session.rollback()
        values = {**body, "expires_at": request.form.get("expires_at", "")}
        return _page(values, exc if isinstance(exc, FormErrors) else refused(exc), status=422)
    unit_of_work.commit()
    return _page({}, clear=clear)


@bp.post("/settings/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    """Revoke a token at once (the agent's own; an admin's: anyone's; else 404)."""
    try:
        row = tokens.visible_token(current_user, token_id)
    except NotFound:
        abort(404)
    services.revoke_token(row.id)
    unit_of_work.commit()
    flash(_("Token %(name)s is revoked.", name=row.name or row.prefix), "ok")
    return redirect(url_for("settings_tokens.token_list"))
