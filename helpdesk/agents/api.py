"""REST API v1 for agents: who works the desk (``GET /agents``, ``GET /me``), and for
admins adding agents and changing their role, teams, state and whether they see only
their own accounts (agents/access.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from flask import g, jsonify
from pydantic import Field, StringConstraints
from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.agents import services
from helpdesk.agents.auth import require_role
from helpdesk.agents.models import ROLES, Agent, Team
from helpdesk.customers.schemas import Id, Strict
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.web.api import api_blueprint, get_or_404, paginate, parse_body
from helpdesk.web.openapi import Ref, Shape, documented

bp = api_blueprint("agents_api", __name__, lock_writes=True)
Role = Literal[ROLES]  # type: ignore[valid-type]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# How many open tickets automatic assignment gives the agent at most.
Capacity = Annotated[int, Field(ge=0, le=services.MAX_CAPACITY)]


class AgentIn(Strict):
    """POST /agents: a new agent (the password generated and answered once when absent)."""

    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    name: Name
    role: Role = "agent"
    teams: list[Id] = Field(default_factory=list, max_length=50)
    password: Annotated[str, StringConstraints(min_length=8, max_length=200)] | None = None
    own_accounts_only: bool = False
    capacity: Capacity = 20


class AgentPatch(Strict):
    """PATCH /agents/ID: only the fields sent change."""

    name: Name | None = None
    role: Role | None = None
    teams: list[Id] | None = Field(default=None, max_length=50)
    active: bool | None = None
    own_accounts_only: bool | None = None
    capacity: Capacity | None = None
    # Calls ring this number instead of the browser softphone; "" clears it.
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None


class AgentOut(Shape):
    """An agent as the API shows them."""

    id: int
    name: str
    email: str
    role: str
    teams: list[Ref]
    presence: str
    active: bool
    own_accounts_only: bool
    capacity: int
    phone: str | None


class NewAgentOut(AgentOut):
    """A new agent; ``password`` only when it was generated (shown once)."""

    password: str | None = None


def agent_json(agent: Agent) -> dict:
    """An agent for the API."""
    return {
        **agent.summary(),
        "teams": [{"id": t.id, "name": t.name} for t in sorted(agent.teams, key=lambda t: t.id)],
        "presence": agent.presence,
        "active": agent.active,
        "own_accounts_only": agent.own_accounts_only,
        "capacity": agent.capacity,
        "phone": agent.phone,
    }


def _teams(ids: list[int]) -> list[Team]:
    """The teams with these ids; 422 naming the field when one does not exist."""
    found = {t.id: t for t in db.session.execute(select(Team).where(Team.id.in_(ids))).scalars()}
    if len(found) != len(set(ids)):
        raise Invalid("no such team", fields={"teams": "unknown id"})
    return [found[i] for i in dict.fromkeys(ids)]


@bp.get("/agents")
@documented(AgentOut, paged=True)
def list_agents():
    """Every agent, by name."""
    query = select(Agent).order_by(func.lower(Agent.name), Agent.id)
    return jsonify(paginate(query, agent_json))


@bp.get("/me")
@documented(AgentOut)
def me():
    """The agent behind the token or session."""
    return jsonify(agent_json(g.agent))


@bp.post("/agents")
@require_role("admin")
@documented(NewAgentOut, status=201, body=AgentIn)
def create_agent():
    """Add an agent (admins)."""
    body = parse_body(AgentIn)
    teams = _teams(body.teams)
    try:
        agent, generated = services.create_agent(
            body.email,
            body.name,
            body.role,
            [],
            body.password,
            own_accounts_only=body.own_accounts_only,
            capacity=body.capacity,
        )
    except services.AgentError as exc:
        raise Invalid(str(exc), fields={"email": str(exc)}) from exc
    agent.teams = teams
    unit_of_work.commit()
    return jsonify({**agent_json(agent), "password": generated}), 201


@bp.patch("/agents/<int:agent_id>")
@require_role("admin")
@documented(AgentOut, body=AgentPatch)
def update_agent(agent_id: int):
    """Change an agent's name, role, teams, capacity, phone, active state or own-accounts-only
    (admins; their own role, state and access they leave to another admin)."""
    agent = get_or_404(Agent, agent_id, "agent")
    changes = {k: v for k, v in parse_body(AgentPatch).model_dump(exclude_unset=True).items()}
    if any(value is None for value in changes.values()):
        raise Invalid(
            "these fields cannot be null",
            fields={k: "null" for k, v in changes.items() if v is None},
        )
    services.check_own_change(g.agent, agent, changes)
    if "teams" in changes:
        changes["teams"] = _teams(changes["teams"])
    services.update_agent(agent, changes)
    unit_of_work.commit()
    return jsonify(agent_json(agent))
