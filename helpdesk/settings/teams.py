"""Settings: teams (``/settings/teams``): members, business hours and holidays, how new
tickets are assigned, and where escalations go.

Admins add teams and change everything; a lead opens and changes their own teams' hours,
assignment and escalation team (members stay the admins'). Other teams, and the whole
section for agents, answer 404. Hours validate with the API's ``CalendarIn`` and go
through ``sla.policies`` as ``PATCH /api/v1/teams/ID`` and ``helpdesk team set`` do.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.agents import services as agents
from helpdesk.agents.models import ASSIGNMENT, Agent, Team
from helpdesk.automation.assignment import AssignmentError, set_mode
from helpdesk.errors import HelpdeskError
from helpdesk.extensions import db
from helpdesk.settings.forms import FormErrors, refused, validate
from helpdesk.sla import policies
from helpdesk.sla.api import CalendarIn
from helpdesk.sla.business_hours import DAYS
from helpdesk.web.pages import get_or_404, page_blueprint

bp = page_blueprint("settings_teams", __name__)


@bp.before_request
def _leads_and_admins() -> None:
    """Teams are the leads' (their own) and admins'; to agents they do not exist."""
    if not current_user.is_authenticated or current_user.role not in ("lead", "admin"):
        abort(404)


def _mine(team_id: int) -> Team:
    """A team the signed-in lead or admin may open, else 404."""
    team = get_or_404(Team, team_id)
    if not current_user.is_admin and team.id not in current_user.team_ids:
        abort(404)
    return team


@bp.get("/settings/teams")
def teams():
    """The teams the agent may change (an admin: all), with their members' count."""
    query = select(Team).order_by(func.lower(Team.name))
    if not current_user.is_admin:
        query = query.where(Team.id.in_(current_user.team_ids or [-1]))
    rows = list(db.session.execute(query).unique().scalars())
    return render_template("settings/teams.html", teams=rows, errors={}, values={})


@bp.post("/settings/teams")
def new_team():
    """Add a team (admins)."""
    if not current_user.is_admin:
        abort(404)
    name = request.form.get("name", "").strip()
    try:
        team = agents.create_team(name)
    except agents.AgentError as exc:
        db.session.rollback()
        rows = list(db.session.execute(select(Team).order_by(Team.name)).unique().scalars())
        return render_template(
            "settings/teams.html", teams=rows, errors={"name": str(exc)}, values={"name": name}
        ), 422
    unit_of_work.commit()
    return redirect(url_for("settings_teams.edit_team", team_id=team.id))


def _calendar_values(team: Team) -> dict:
    """A team's calendar as the form shows it: spans as "09:00-17:00, ..." per day."""
    calendar = team.calendar or {}
    hours = calendar.get("hours") or {}
    return {
        "timezone": calendar.get("timezone") or "",
        **{f"hours.{d}": ", ".join(f"{a}-{b}" for a, b in hours.get(d, [])) for d in DAYS},
        "holidays": "\n".join(calendar.get("holidays") or []),
    }


def _posted_calendar() -> dict | None:
    """The posted hours as the API's calendar JSON; None when nothing is given (around
    the clock, in UTC)."""
    form = request.form
    hours: dict[str, list] = {}
    for day in DAYS:
        spans = [s.strip() for s in form.get(f"hours.{day}", "").split(",") if s.strip()]
        if spans:
            hours[day] = [[p.strip() for p in span.split("-", 1)] for span in spans]
    holidays = [h.strip() for h in form.get("holidays", "").split() if h.strip()]
    timezone = form.get("timezone", "").strip()
    if not hours and not holidays and not timezone:
        return None
    return {"timezone": timezone or None, "hours": hours, "holidays": holidays}


def _page(team: Team, values: dict, errors: FormErrors | None = None, status: int = 200):
    """The team form."""
    members = {a.id for a in team.members}
    everyone = db.session.execute(
        select(Agent).where(Agent.active.is_(True)).order_by(func.lower(Agent.name))
    )
    others = db.session.execute(select(Team).where(Team.id != team.id).order_by(Team.name))
    return render_template(
        "settings/team.html",
        team=team,
        values=values,
        errors=errors.fields if errors else {},
        message=errors.message if errors else None,
        days=DAYS,
        modes=ASSIGNMENT,
        members=members,
        agents=list(everyone.unique().scalars()),
        others=list(others.unique().scalars()),
    ), status


def _current(team: Team) -> dict:
    """The team's settings as the form shows them."""
    return {
        **_calendar_values(team),
        "assignment": team.assignment,
        "escalation_team": team.escalation_team_id,
    }


@bp.route("/settings/teams/<int:team_id>", methods=["GET", "POST"])
def edit_team(team_id: int):
    """Change a team's hours, holidays, assignment, escalation team (and, for admins, its
    members)."""
    team = _mine(team_id)
    if request.method == "GET":
        return _page(team, _current(team))
    before = policies.team_json(team)
    try:
        calendar = _posted_calendar()
        if calendar is not None:
            calendar = validate(CalendarIn, calendar, depth=2).model_dump(mode="json")
        policies.set_calendar(team, calendar, current_user)
        mode = request.form.get("assignment", team.assignment)
        if mode != team.assignment:
            set_mode(team, mode)
        other_id = request.form.get("escalation_team", "")
        other = db.session.get(Team, int(other_id)) if other_id.isdigit() else None
        if other_id and other is None:
            unknown = {"escalation_team": _("unknown team")}
            raise FormErrors(_("Please correct the marked fields."), unknown)
        policies.set_escalation_team(team, other, current_user)
        if current_user.is_admin:
            _set_members(team, {int(i) for i in request.form.getlist("members") if i.isdigit()})
        policies.record_team_change(team, before)
    except (FormErrors, HelpdeskError, AssignmentError) as exc:
        db.session.rollback()
        if isinstance(exc, AssignmentError):
            exc = FormErrors(str(exc), {"assignment": str(exc)})
        errors = exc if isinstance(exc, FormErrors) else refused(exc)
        errors.fields = {
            ("holidays" if k.startswith("holidays") else k): v for k, v in errors.fields.items()
        }
        values = {**request.form.to_dict(), "escalation_team": request.form.get("escalation_team")}
        return _page(team, values, errors, 422)
    unit_of_work.commit()
    flash(_("Team %(name)s is saved.", name=team.name), "ok")
    return redirect(url_for("settings_teams.edit_team", team_id=team.id))


def _set_members(team: Team, wanted: set[int]) -> None:
    """Make ``wanted`` the team's members, each change through ``agents.update_agent`` (the
    agent's sessions follow what they may now see)."""
    current = {a.id for a in team.members}
    for agent_id in wanted ^ current:
        agent = db.session.get(Agent, agent_id)
        if agent is None:
            continue
        teams = [t for t in agent.teams if t.id != team.id]
        if agent_id in wanted:
            teams.append(team)
        agents.update_agent(agent, {"teams": teams})
