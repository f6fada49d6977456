"""Settings for admins: the agents (``/settings/agents``).

Invite a new agent (a set-password link by mail), change their role, teams, capacity and
whether they see only their own accounts, deactivate or reactivate them (a deactivation
ends their sessions), and mail them a password reset. The forms validate with the API's
models (``agents.api.AgentIn``/``AgentPatch``) and write through the same services.
Anyone but an admin gets 404.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.agents import services
from helpdesk.agents.api import AgentIn, AgentPatch
from helpdesk.agents.models import ROLES, Agent, Team
from helpdesk.errors import HelpdeskError
from helpdesk.extensions import db
from helpdesk.settings import invitations
from helpdesk.settings.forms import FormErrors, read, refused, validate
from helpdesk.web.pages import get_or_404, page_blueprint

bp = page_blueprint("settings_agents", __name__)


@bp.before_request
def _admins_only() -> None:
    """The agents' settings are the admins' (an account manager's admin too: no customer
    data here); to anyone else they do not exist."""
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(404)


def _teams(ids: list[int]) -> list[Team]:
    """The teams with these ids (the form offers only existing ones)."""
    found = {t.id: t for t in db.session.execute(select(Team).where(Team.id.in_(ids))).scalars()}
    if len(found) != len(set(ids)):
        raise FormErrors(_("Please correct the marked fields."), {"teams": _("unknown team")})
    return [found[i] for i in dict.fromkeys(ids)]


def _all_teams() -> list[Team]:
    """Every team, by name, for the form's checkboxes."""
    return list(db.session.execute(select(Team).order_by(Team.name)).scalars())


@bp.get("/settings/agents")
def agents():
    """Every agent with role, teams, capacity and state."""
    rows = db.session.execute(
        select(Agent).order_by(Agent.active.desc(), func.lower(Agent.name), Agent.id)
    )
    return render_template("settings/agents.html", agents=list(rows.unique().scalars()))


def _form(agent: Agent | None, values: dict, errors: FormErrors | None, status: int = 200):
    """The agent form, filled with ``values``, with ``errors`` beside the fields."""
    return (
        render_template(
            "settings/agent.html",
            agent=agent,
            values=values,
            errors=errors.fields if errors else {},
            message=errors.message if errors else None,
            roles=ROLES,
            teams=_all_teams(),
        ),
        status,
    )


def _values(agent: Agent) -> dict:
    """An agent's current settings as the form shows them."""
    return {
        "name": agent.name,
        "email": agent.email,
        "role": agent.role,
        "teams": [t.id for t in agent.teams],
        "capacity": agent.capacity,
        "own_accounts_only": agent.own_accounts_only,
        "phone": agent.phone or "",
    }


FIELDS = {"text": ("email", "name", "role"), "numbers": ("capacity",)}


@bp.route("/settings/agents/new", methods=["GET", "POST"])
def new_agent():
    """Invite an agent: created without a known password, mailed a set-password link."""
    if request.method == "GET":
        return _form(None, {"role": "agent", "capacity": 20, "teams": []}, None)
    body = read(**FIELDS, flags=("own_accounts_only",), id_lists=("teams",))
    try:
        data = validate(AgentIn, body)
        teams = _teams(data.teams)
        try:
            agent, _generated = services.create_agent(
                data.email,
                data.name,
                data.role,
                [],
                None,  # a random password nobody knows, until the link sets one
                own_accounts_only=data.own_accounts_only,
                capacity=data.capacity,
            )
        except services.AgentError as exc:
            raise FormErrors(str(exc), {"email": str(exc)}) from exc
        agent.teams = teams
        db.session.flush()
        link = invitations.send(agent, "invite")
    except (FormErrors, HelpdeskError) as exc:
        db.session.rollback()
        errors = exc if isinstance(exc, FormErrors) else refused(exc)
        return _form(None, body, errors, 422)
    unit_of_work.commit()
    return _sent(agent, link, _("%(name)s is invited.", name=agent.name))


def _sent(agent: Agent, link: str | None, done: str):
    """After an invitation or reset: say where the link went, or show it this once."""
    if link is None:
        flash(done + " " + _("The link is on its way to %(email)s.", email=agent.email), "ok")
        return redirect(url_for("settings_agents.agents"))
    page = render_template("settings/agent_link.html", agent=agent, link=link, done=done)
    return page, 200, {"Cache-Control": "no-store"}  # the link is a password, shown once


@bp.route("/settings/agents/<int:agent_id>", methods=["GET", "POST"])
def edit_agent(agent_id: int):
    """Change an agent's name, role, teams, capacity, own phone and own-accounts-only."""
    agent = get_or_404(Agent, agent_id)
    if request.method == "GET":
        return _form(agent, _values(agent), None)
    body = read(text=("name", "role", "phone"), numbers=("capacity",), flags=("own_accounts_only",))
    body["teams"] = read(id_lists=("teams",))["teams"]
    try:
        changes = validate(AgentPatch, body).model_dump(exclude_unset=True)
        changes["teams"] = _teams(changes["teams"])
        services.check_own_change(current_user, agent, changes)
        services.update_agent(agent, changes)
    except (FormErrors, HelpdeskError, services.AgentError) as exc:
        db.session.rollback()
        if isinstance(exc, services.AgentError):
            exc = FormErrors(str(exc), {"form": str(exc)})
        errors = exc if isinstance(exc, FormErrors) else refused(exc)
        return _form(agent, {**_values(agent), **body}, errors, 422)
    unit_of_work.commit()
    flash(_("Saved."), "ok")
    return redirect(url_for("settings_agents.edit_agent", agent_id=agent.id))


@bp.post("/settings/agents/<int:agent_id>/active")
def set_active(agent_id: int):
    """Deactivate an agent (their sessions end at once) or reactivate them."""
    agent = get_or_404(Agent, agent_id)
    changes = {"active": request.form.get("active") == "1"}
    try:
        services.check_own_change(current_user, agent, changes)
    except HelpdeskError as exc:
        flash(exc.message, "error")
        return redirect(url_for("settings_agents.edit_agent", agent_id=agent.id))
    services.update_agent(agent, changes)
    unit_of_work.commit()
    flash(
        _("%(name)s is active again.", name=agent.name)
        if agent.active
        else _("%(name)s is deactivated; their sessions have ended.", name=agent.name),
        "ok",
    )
    return redirect(url_for("settings_agents.edit_agent", agent_id=agent.id))


@bp.post("/settings/agents/<int:agent_id>/reset-password")
def reset_password(agent_id: int):
    """Mail an agent a link to set a new password (their password works until then)."""
    agent = get_or_404(Agent, agent_id)
    try:
        link = invitations.send(agent, "reset")
    except HelpdeskError as exc:
        flash(exc.message, "error")
        return redirect(url_for("settings_agents.edit_agent", agent_id=agent.id))
    unit_of_work.commit()
    return _sent(agent, link, _("A password reset for %(name)s is made.", name=agent.name))
