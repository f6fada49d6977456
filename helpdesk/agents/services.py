"""Creating agents and teams."""
from __future__ import annotations

import secrets

from sqlalchemy import func, select

from ..customers.identities import InvalidIdentity, normalise_email
from ..extensions import db
from .models import ROLES, Agent, Team


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


def create_agent(email: str, name: str, role: str, teams: list[str],
                 password: str | None = None) -> tuple[Agent, str | None]:
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
    generated = None if password else secrets.token_urlsafe(12)
    agent = Agent(email=email, name=name.strip()[:200] or email, role=role)
    agent.set_password(password or generated)
    agent.teams = [team_named(t) for t in teams]
    db.session.add(agent)
    db.session.flush()
    return agent, generated
