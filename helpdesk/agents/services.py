"""Creating agents and teams, their passwords, deactivation, logins and API tokens."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from helpdesk.agents.models import ROLES, SCOPES, Agent, ApiToken, Team
from helpdesk.audit import services as audit
from helpdesk.customers.identities import InvalidIdentity, normalise_email, normalise_phone
from helpdesk.db import utcnow
from helpdesk.errors import Forbidden, Invalid
from helpdesk.extensions import db
from helpdesk.i18n import LANGUAGES, known_timezone
from helpdesk.web import ratelimit

log = logging.getLogger(__name__)
MIN_PASSWORD = 8


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
    email: str,
    name: str,
    role: str,
    teams: list[str],
    password: str | None = None,
    own_accounts_only: bool = False,
    capacity: int | None = None,
) -> tuple[Agent, str | None]:
    """Add an agent (``own_accounts_only``: an account manager, agents/access.py); return
    it and the generated password when none was given."""
    try:
        email = normalise_email(email)
    except InvalidIdentity as exc:
        raise AgentError(str(exc)) from exc
    if role not in ROLES:
        raise AgentError(f"role must be one of {', '.join(ROLES)}")
    if db.session.execute(select(Agent.id).where(func.lower(Agent.email) == email)).first():
        raise AgentError(f"an agent with {email} exists already")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AgentError(f"passwords are at least {MIN_PASSWORD} characters")
    generated: str | None = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    agent = Agent(
        email=email,
        name=name.strip()[:200] or email,
        role=role,
        own_accounts_only=own_accounts_only,
        capacity=_capacity(capacity) if capacity is not None else 20,
    )
    agent.set_password(password)
    agent.teams = [team_named(t) for t in teams]
    db.session.add(agent)
    db.session.flush()
    audit.record(
        "agent.create",
        object_type="agent",
        object_id=agent.id,
        after={"email": email, "name": agent.name, "role": role, "teams": sorted(teams)},
    )
    return agent, generated


MAX_CAPACITY = 1000


def _capacity(value: int) -> int:
    """How many open tickets automatic assignment gives the agent at most (0: none)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CAPACITY:
        raise AgentError(f"capacity is a whole number from 0 to {MAX_CAPACITY}")
    return value


def check_own_change(actor: Agent | None, agent: Agent, changes: dict) -> None:
    """Admins leave their own role, state and access to another admin (no lockout)."""
    if actor is not None and agent.id == actor.id:
        if {"role", "active", "own_accounts_only"} & {
            k for k, v in changes.items() if getattr(agent, k) != v
        }:
            raise Forbidden("admins do not change their own role, state or access")


# What changes what an agent may see: their live connections and sessions must follow.
ACCESS_FIELDS = ("role", "teams", "own_accounts_only", "active")


def update_agent(agent: Agent, changes: dict) -> None:
    """Change an agent's name, capacity, role, teams (Team rows), whether they see only their own
    accounts, or whether they are active. A change of what they may see ends their
    sessions (they log in again and get what fits) and, after the commit, closes their
    live connections to this process (they reconnect into the rooms that fit)."""
    if "role" in changes and changes["role"] not in ROLES:
        raise AgentError(f"role must be one of {', '.join(ROLES)}")
    before = _audited(agent)
    if "capacity" in changes:
        agent.capacity = _capacity(changes["capacity"])
    if "phone" in changes:
        agent.phone = own_phone(changes["phone"])
    changed = False
    for field in ("name", "role", "own_accounts_only"):
        if field in changes and getattr(agent, field) != changes[field]:
            setattr(agent, field, changes[field])
            changed = changed or field != "name"
    if "teams" in changes and {t.id for t in changes["teams"]} != agent.team_ids:
        agent.teams = list(changes["teams"])
        changed = True
    if changes.get("active") is False and agent.active:
        deactivate(agent)
        changed = True
    elif changes.get("active") is True and not agent.active:
        agent.active = True
    if changed and agent.active:
        agent.end_sessions()
    if changed:
        from helpdesk import realtime, unit_of_work

        agent_id = agent.id
        unit_of_work.after_commit(lambda: realtime.disconnect_agent(agent_id))
    db.session.flush()
    old, new = audit.changes(before, _audited(agent))
    old.pop("active", None)  # a deactivation has its own record
    new.pop("active", None)
    if old or new:
        audit.record("agent.update", object_type="agent", object_id=agent.id, before=old, after=new)


def _audited(agent: Agent) -> dict:
    """What the audit log keeps of an agent's settings."""
    return {
        "name": agent.name,
        "role": agent.role,
        "teams": sorted(t.name for t in agent.teams),
        "capacity": agent.capacity,
        "own_accounts_only": agent.own_accounts_only,
        "active": agent.active,
        "phone": agent.phone,
    }


def own_phone(value: str | None) -> str | None:
    """An agent's own phone number in E.164 (calls ring it instead of the browser), or
    None for an empty value; Invalid naming ``phone`` when it is no phone number."""
    if not (value or "").strip():
        return None
    try:
        return normalise_phone(value or "")
    except InvalidIdentity as exc:
        raise Invalid(str(exc), fields={"phone": _("not a phone number")}) from None


def create_team(name: str) -> Team:
    """A new team called ``name`` (AgentError when the name is taken or too long)."""
    name = name.strip()
    if db.session.execute(select(Team.id).where(Team.name == name)).first():
        raise AgentError(f"a team called {name} exists already")
    team = team_named(name)
    db.session.flush()
    audit.record("team.create", object_type="team", object_id=team.id, after={"name": name})
    return team


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


_DUMMIES: dict[str, Agent] = {}


def _dummy() -> Agent:
    """An agent checked against when the email is unknown, so both failures take the same
    time: hashed with the app's method, on first use (hashing costs a fifth of a second of
    CPU and 32 MB, which every process that imports this module paid at import before)."""
    method = current_app.config.get("PASSWORD_HASH_METHOD") or "scrypt"
    if method not in _DUMMIES:
        dummy = Agent(email="nobody@invalid", name="nobody")
        dummy.set_password("not a password anyone has")
        _DUMMIES[method] = dummy
    return _DUMMIES[method]


class Throttled(Exception):
    """Too many login attempts from one address or for one account in the last minute."""


def authenticate(email: str, password: str, ip: str | None = None) -> Agent | None:
    """The active agent with this email and password, or None (an unknown email costs
    the same password check as a wrong password). At most LOGIN_ATTEMPTS_PER_MINUTE
    attempts per address and per account within any minute are checked; past that,
    Throttled, and the password is not looked at. Failures are logged."""
    account = email.strip().lower()[:254]
    limit = current_app.config["LOGIN_ATTEMPTS_PER_MINUTE"]
    by_ip = ratelimit.allow(f"login-ip:{ip}", limit, 60, sliding=True)
    by_account = ratelimit.allow(f"login-account:{account}", limit, 60, sliding=True)
    if not (by_ip and by_account):
        log.warning(
            "login throttled: %r from %s (%s)", account, ip, "address" if not by_ip else "account"
        )
        raise Throttled()
    agent = (
        db.session.execute(select(Agent).where(func.lower(Agent.email) == account))
        .unique()
        .scalar_one_or_none()
    )
    candidate = agent if agent is not None else _dummy()
    if candidate.check_password(password) and agent is not None and agent.active:
        log.info("login: agent %s from %s", agent.id, ip)
        audit.record(
            "login",
            object_type="agent",
            object_id=agent.id,
            agent_id=agent.id,
            after={"email": account},
        )
        return agent
    log.warning("login failed: %r from %s", account, ip)
    # The address tried (never the password), and whose account it is when it is one.
    audit.record(
        "login.failed",
        object_type="agent",
        object_id=agent.id if agent is not None else None,
        after={"email": account},
    )
    return None


def agent_by_email(email: str) -> Agent:
    """The agent with this email (any case), or AgentError."""
    agent = (
        db.session.execute(select(Agent).where(func.lower(Agent.email) == email.strip().lower()))
        .unique()
        .scalar_one_or_none()
    )
    if agent is None:
        raise AgentError(f"no agent {email}")
    return agent


def set_password(agent: Agent, password: str) -> None:
    """Give ``agent`` a new password; every session of theirs ends."""
    if len(password) < MIN_PASSWORD:
        raise AgentError(f"passwords are at least {MIN_PASSWORD} characters")
    agent.set_password(password)
    agent.end_sessions()
    db.session.flush()
    audit.record("agent.password", object_type="agent", object_id=agent.id)


def deactivate(agent: Agent) -> None:
    """Stop ``agent`` from working the desk: no login, their sessions end, their API
    tokens stop working (they are kept, for the record, and work again if reactivated
    and not revoked)."""
    before = agent.active
    agent.active = False
    agent.presence = "offline"
    agent.end_sessions()
    db.session.flush()
    audit.record(
        "agent.deactivate",
        object_type="agent",
        object_id=agent.id,
        before={"active": before},
        after={"active": False},
    )


def issue_token(
    agent: Agent,
    scope: str = "api",
    name: str | None = None,
    expires_days: int | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new API token of ``scope`` for ``agent``, expiring after ``expires_days`` or at
    ``expires_at`` (never when both are None); the row and the clear token, which is shown
    once and never stored."""
    if scope not in SCOPES:
        raise AgentError(f"scope must be one of {', '.join(SCOPES)}")
    if expires_days is not None and not 0 < expires_days <= 3650:
        raise AgentError("tokens expire after 1 to 3650 days")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if not utcnow() < expires_at <= utcnow() + timedelta(days=3650):
            raise AgentError("tokens expire within the next 3650 days")
    if name is not None and len(name.strip()) > 100:
        raise AgentError("token names are at most 100 characters")
    if not agent.active:
        raise AgentError(f"{agent.email} is deactivated")
    expires = utcnow() + timedelta(days=expires_days) if expires_days is not None else expires_at
    row, clear = ApiToken.issue(agent, scope, (name or "").strip() or None, expires)
    db.session.add(row)
    db.session.flush()
    audit.record(
        "token.create",
        object_type="api_token",
        object_id=row.id,
        after={
            "agent": agent.id,
            "scope": scope,
            "name": row.name,
            "expires_at": expires.isoformat() if expires else None,
        },
    )
    return row, clear


def tokens(agent: Agent | None = None) -> list[ApiToken]:
    """API tokens (of ``agent``, else everyone's), oldest first."""
    query = select(ApiToken).order_by(ApiToken.id)
    if agent is not None:
        query = query.where(ApiToken.agent_id == agent.id)
    return list(db.session.execute(query).unique().scalars().all())


def token_state(row: ApiToken) -> str:
    """ "active", "revoked", "expired" or "agent deactivated"."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= utcnow():
        return "expired"
    return "active" if row.agent.active else "agent deactivated"


def revoke_token(token_id: int) -> ApiToken:
    """Revoke a token at once (its row stays, marked revoked)."""
    row = db.session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if row is None:
        raise AgentError(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()
        audit.record(
            "token.revoke", object_type="api_token", object_id=row.id, after={"revoked": True}
        )
        from helpdesk import realtime, unit_of_work

        token_hash = row.token_hash
        # Its live /agents connections end too: revoked means at once, sockets included.
        unit_of_work.after_commit(lambda: realtime.disconnect_token(token_hash))
    return row


def end_sessions(agent: Agent) -> None:
    """End every session of ``agent`` (logout: every copy of the cookie stops working)."""
    agent.end_sessions()
    audit.record("logout", object_type="agent", object_id=agent.id, agent_id=agent.id)
    db.session.flush()


def set_preferences(agent: Agent, language: str | None, timezone: str | None) -> None:
    """The agent's own UI language (``de``, ``en``; None: the browser's) and time zone
    (an IANA name; None: the desk's); AgentError for anything else. Audited as
    ``agent.update``; flushes."""
    language = (language or "").strip() or None
    timezone = (timezone or "").strip() or None
    if language is not None and language not in LANGUAGES:
        raise AgentError(f"language must be one of {', '.join(LANGUAGES)} or empty")
    if timezone is not None and not known_timezone(timezone):
        raise AgentError(f"unknown time zone {timezone[:64]!r}")
    before = {"language": agent.language, "timezone": agent.timezone}
    agent.language, agent.timezone = language, timezone
    db.session.flush()
    audit.record_saved("agent", agent.id, before, {"language": language, "timezone": timezone})
