"""REST API v1 for SLA set-up: policies, and a team's business hours and escalation team."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from flask import g, jsonify
from pydantic import Field, StringConstraints
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents.models import Team
from helpdesk.customers.schemas import Id, Strict
from helpdesk.sla import policies as sla_policies
from helpdesk.sla.business_hours import DAYS, MAX_HOLIDAYS
from helpdesk.sla.models import SlaPolicy
from helpdesk.tickets.models import CHANNELS, PRIORITIES
from helpdesk.web.api import api_blueprint, get_or_404, paginate, parse_body
from helpdesk.web.openapi import Shape, documented

bp = api_blueprint("sla_api", __name__, lock_writes=True)
Minutes = Annotated[int, Field(ge=1, le=366 * 24 * 60)]
PolicyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class PolicyIn(Strict):
    """POST /sla-policies: targets in business minutes; empty matchers match anything."""

    name: PolicyName
    priority: Literal[PRIORITIES] | None = None  # type: ignore[valid-type]
    channel: Literal[CHANNELS] | None = None  # type: ignore[valid-type]
    organization: Id | None = None
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None


class PolicyPatch(PolicyIn):
    """PATCH /sla-policies/ID: only the fields sent change."""

    name: PolicyName | None = None  # type: ignore[assignment]  # optional in a PATCH


Clock = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]


class CalendarIn(Strict):
    """Business hours: an IANA time zone (UTC when absent), open spans per day (``mon`` to
    ``sun``, local [start, end] times), and whole local days off."""

    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    hours: dict[Literal[DAYS], list[tuple[Clock, Clock]]] | None = None  # type: ignore[valid-type]
    holidays: list[date] = Field(default_factory=list, max_length=MAX_HOLIDAYS)


class TeamPatch(Strict):
    """PATCH /teams/ID: business hours (see sla/business_hours.py; null: around the clock in
    UTC) and the escalation team (null: the team's own lead)."""

    calendar: CalendarIn | None = None
    escalation_team: Id | None = None


class PolicyOut(Shape):
    """An SLA policy; targets in business minutes (null: none)."""

    id: int
    name: str
    priority: str | None
    channel: str | None
    organization: int | None
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    created_at: str | None


class TeamOut(Shape):
    """A team's SLA settings; ``escalation_team`` is a team id."""

    id: int
    name: str
    assignment: str | None
    calendar: dict[str, Any] | None
    escalation_team: int | None


@bp.get("/sla-policies")
@documented(PolicyOut, paged=True)
def list_policies():
    """Every policy, oldest first."""
    return jsonify(paginate(select(SlaPolicy).order_by(SlaPolicy.id), sla_policies.policy_json))


@bp.post("/sla-policies")
@documented(PolicyOut, status=201, body=PolicyIn)
def create_policy():
    """A new policy (leads and admins)."""
    policy = sla_policies.create(parse_body(PolicyIn).model_dump(), g.agent)
    unit_of_work.commit()
    return jsonify(sla_policies.policy_json(policy)), 201


@bp.get("/sla-policies/<int:policy_id>")
@documented(PolicyOut)
def get_policy(policy_id: int):
    """One policy."""
    return jsonify(sla_policies.policy_json(sla_policies.get(policy_id)))


@bp.patch("/sla-policies/<int:policy_id>")
@documented(PolicyOut, body=PolicyPatch)
def update_policy(policy_id: int):
    """Change a policy (leads and admins)."""
    changes = parse_body(PolicyPatch).model_dump(exclude_unset=True)
    if changes.get("name", "") is None:
        changes.pop("name")
    policy = sla_policies.update(policy_id, changes, g.agent)
    unit_of_work.commit()
    return jsonify(sla_policies.policy_json(policy))


@bp.delete("/sla-policies/<int:policy_id>")
@documented(None, status=204)
def delete_policy(policy_id: int):
    """Remove a policy (leads and admins)."""
    sla_policies.delete(policy_id, g.agent)
    unit_of_work.commit()
    return "", 204


@bp.get("/teams")
@documented(TeamOut, paged=True)
def list_teams():
    """Every team with its SLA settings."""
    return jsonify(paginate(select(Team).order_by(Team.id), sla_policies.team_json))


@bp.get("/teams/<int:team_id>")
@documented(TeamOut)
def get_team(team_id: int):
    """One team's SLA settings."""
    return jsonify(sla_policies.team_json(get_or_404(Team, team_id, "team")))


@bp.patch("/teams/<int:team_id>")
@documented(TeamOut, body=TeamPatch)
def update_team(team_id: int):
    """Change a team's business hours or escalation team (its leads and admins)."""
    team = get_or_404(Team, team_id, "team")
    changes = parse_body(TeamPatch).model_dump(mode="json", exclude_unset=True)
    before = sla_policies.team_json(team)
    if "calendar" in changes:
        sla_policies.set_calendar(team, changes["calendar"], g.agent)
    if "escalation_team" in changes:
        other = changes["escalation_team"]
        sla_policies.set_escalation_team(
            team, get_or_404(Team, other, "team") if other is not None else None, g.agent
        )
    sla_policies.record_team_change(team, before)
    unit_of_work.commit()
    return jsonify(sla_policies.team_json(team))
