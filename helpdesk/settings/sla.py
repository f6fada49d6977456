"""Settings: SLA policies (``/settings/sla``), for leads and admins.

A policy's targets are business minutes of the ticket's team; a policy may be narrowed to
a priority, a channel or an organization. The forms validate with the API's
``PolicyIn``/``PolicyPatch`` and write through ``sla.policies`` (audited; the open
tickets' due times are computed again by its job). Agents get 404.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.customers.models import Organization
from helpdesk.errors import HelpdeskError, NotFound
from helpdesk.extensions import db
from helpdesk.settings.forms import FormErrors, read, refused, validate
from helpdesk.sla import policies
from helpdesk.sla.api import PolicyIn, PolicyPatch
from helpdesk.sla.models import SlaPolicy
from helpdesk.tickets.models import CHANNELS, PRIORITIES
from helpdesk.web.pages import page_blueprint

bp = page_blueprint("settings_sla", __name__)
TEXT = ("name", "priority", "channel")
NUMBERS = ("organization",) + policies.TARGET_FIELDS


@bp.before_request
def _leads_and_admins() -> None:
    """SLA policies are the leads' and admins'; to agents they do not exist."""
    if not current_user.is_authenticated or current_user.role not in ("lead", "admin"):
        abort(404)


def _form(policy: SlaPolicy | None, values: dict, errors: FormErrors | None, status: int = 200):
    """The policy form with ``values`` and ``errors`` beside the fields."""
    # Only the organizations the agent may see (an account manager: their own accounts).
    orgs = db.session.execute(
        select(Organization.id, Organization.name)
        .where(access.organization_filter(current_user))
        .order_by(Organization.name)
        .limit(500)
    ).all()
    return (
        render_template(
            "settings/sla_policy.html",
            policy=policy,
            values=values,
            errors=errors.fields if errors else {},
            message=errors.message if errors else None,
            priorities=PRIORITIES,
            channels=CHANNELS,
            organizations=orgs,
            targets=policies.TARGET_FIELDS,
        ),
        status,
    )


def _posted() -> dict:
    """The posted policy; empty matchers and targets are sent as null (none)."""
    return read(text=TEXT, numbers=NUMBERS, optional=TEXT[1:] + NUMBERS)


@bp.get("/settings/sla")
def policy_list():
    """Every policy, oldest first."""
    rows = db.session.execute(select(SlaPolicy).order_by(SlaPolicy.id)).scalars()
    return render_template("settings/sla.html", policies=list(rows))


@bp.route("/settings/sla/new", methods=["GET", "POST"])
def new_policy():
    """Define a policy."""
    if request.method == "GET":
        return _form(None, {}, None)
    body = _posted()
    try:
        policy = policies.create(validate(PolicyIn, body).model_dump(), current_user)
    except (FormErrors, HelpdeskError) as exc:
        db.session.rollback()
        return _form(None, body, exc if isinstance(exc, FormErrors) else refused(exc), 422)
    unit_of_work.commit()
    flash(_("Policy %(name)s is saved.", name=policy.name), "ok")
    return redirect(url_for("settings_sla.policy_list"))


@bp.route("/settings/sla/<int:policy_id>", methods=["GET", "POST"])
def edit_policy(policy_id: int):
    """Change a policy."""
    try:
        policy = policies.get(policy_id) if 0 < policy_id < 2**31 else None
    except NotFound:
        policy = None
    if policy is None:
        abort(404)
    if request.method == "GET":
        return _form(policy, policies.policy_json(policy), None)
    body = _posted()
    try:
        changes = validate(PolicyPatch, body).model_dump(exclude_unset=True)
        policies.update(policy.id, changes, current_user)
    except (FormErrors, HelpdeskError) as exc:
        db.session.rollback()
        return _form(policy, body, exc if isinstance(exc, FormErrors) else refused(exc), 422)
    unit_of_work.commit()
    flash(_("Policy %(name)s is saved.", name=policy.name), "ok")
    return redirect(url_for("settings_sla.policy_list"))


@bp.post("/settings/sla/<int:policy_id>/delete")
def delete_policy(policy_id: int):
    """Remove a policy; its tickets take the next matching one."""
    if not 0 < policy_id < 2**31:
        abort(404)
    try:
        policies.delete(policy_id, current_user)
    except NotFound:
        abort(404)
    unit_of_work.commit()
    flash(_("The policy is removed."), "ok")
    return redirect(url_for("settings_sla.policy_list"))
