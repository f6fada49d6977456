"""Creating agents and teams."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from helpdesk.agents.models import ROLES, Agent, Team
from helpdesk.customers.identities import InvalidIdentity, normalise_email
from helpdesk.extensions import db


class AgentError(ValueError):
    """An agent cannot be created as asked."""


def team_named(name: str) -> Team:
    """The team called ``name``, created if new."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AgentError("team names are 1 to 100 characters")
    team = db.session.execute(select(Team).where(Team.name == name)).scalar_one_or_none()
    if team is None:
        team = Team(name=name)
        db.session.add(team)
    return team


def create_agent(
    email: str, name: str, role: str, teams: list[str], password: str | None = None
) -> tuple[Agent, str | None]:
    """Add an agent; return it and the generated password when none was given."""
    try:
        email = normalise_email(email)
    except InvalidIdentity as exc:
        raise AgentError(str(exc)) from exc
    if role not in ROLES:
        raise AgentError(f"role must be one of {', '.join(ROLES)}")
    if db.session.execute(select(Agent.id).where(func.lower(Agent.email) == email)).first():
        raise AgentError(f"an agent with {email} exists already")
    if password is not None and len(password) < 8:
        raise AgentError("passwords are at least 8 characters")
    generated: str | None = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    agent = Agent(email=email, name=name.strip()[:200] or email, role=role)
    agent.set_password(password)
    agent.teams = [team_named(t) for t in teams]
    db.session.add(agent)
    db.session.flush()
    return agent, generated


def colleagues(agent: Agent) -> list[Agent]:
    """The active agents of ``agent``'s teams (everyone, for an admin), for presence."""
    query = select(Agent).where(Agent.active.is_(True)).order_by(Agent.name).limit(100)
    if not agent.is_admin:
        query = query.where(Agent.teams.any(Team.id.in_(agent.team_ids or [-1])))
    return list(db.session.execute(query).unique().scalars().all())


def choices() -> tuple[list, list]:
    """Ids and names of the teams and active agents, for the team and assignee menus
    (rows, not whole agents and teams)."""
    teams = db.session.execute(select(Team.id, Team.name).order_by(Team.name).limit(200)).all()
    agents = db.session.execute(
        select(Agent.id, Agent.name).where(Agent.active.is_(True)).order_by(Agent.name).limit(500)
    ).all()
    return list(teams), list(agents)


# Checked against when the email is unknown, so both failures take the same time.
_DUMMY = Agent(email="nobody@invalid", name="nobody")
_DUMMY.set_password("not a password anyone has")


def authenticate(email: str, password: str) -> Agent | None:
    """The active agent with this email and password, or None (an unknown email costs
    the same password check as a wrong password)."""
    agent = db.session.execute(
        select(Agent).where(func.lower(Agent.email) == email.strip().lower())
    ).scalar_one_or_none()
    candidate = agent if agent is not None else _DUMMY
    if candidate.check_password(password) and agent is not None and agent.active:
        return agent
    return None
