"""Who is calling: Flask-Login sessions for the UI, bearer tokens for API and realtime."""

from __future__ import annotations

import hmac
from functools import wraps

from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents.models import Agent, ApiToken, hash_token
from helpdesk.db import utcnow
from helpdesk.errors import error_response
from helpdesk.extensions import db


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the cookie ``Secure`` whenever the request
    came over HTTPS (SESSION_COOKIE_SECURE makes it always so)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Whether the session cookie gets the Secure attribute."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def load_agent(session_id: str) -> Agent | None:
    """Flask-Login, on every request: the agent of a session, if the session is of the
    agent's current session version (``Agent.get_id``: "ID:VERSION"); a logout, a new
    password or a deactivation counted the version up and ended every older copy."""
    agent_id, _, version = str(session_id).partition(":")
    try:
        agent = db.session.get(Agent, int(agent_id))
        current = agent is not None and int(version) == agent.session_version
    except (TypeError, ValueError):
        return None
    return agent if current else None


def agent_for_token(token: str, scope: str = "api") -> Agent | None:
    """The active agent owning ``token``, if the token is of ``scope``, neither revoked
    nor expired."""
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).scalar_one_or_none()
    now = utcnow()
    if row is None or row.scope != scope or not row.usable(now):
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 300:
        # Coarse, so a busy client does not write on every call; in a write transaction
        # of its own, so many clients connecting at once queue instead of failing (SQLite).
        with unit_of_work.write_phase():
            row.last_used_at = now
            db.session.commit()
    return row.agent


def _bearer() -> str | None:
    """The token of an ``Authorization: Bearer`` header."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _session_csrf_ok() -> bool:
    """A browser using its session for a write must echo the session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return True
    from flask_wtf.csrf import ValidationError, validate_csrf

    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError:
        return False
    return True


def api_agent(scope: str = "api") -> Agent | None:
    """The agent calling the API: a bearer token of ``scope``, or (for the "api" scope)
    the UI's session with CSRF."""
    token = _bearer()
    if token:
        return agent_for_token(token, scope)
    if scope == "api" and current_user.is_authenticated and _session_csrf_ok():
        return current_user._get_current_object()
    return None


def require_agent(blueprint, scope: str | tuple[str, ...] = "api") -> None:
    """Make every route of ``blueprint`` refuse callers that are not an agent with a token
    of ``scope`` (one of them, when several; for "api", also the UI's session)."""
    scopes = (scope,) if isinstance(scope, str) else scope

    @blueprint.before_request
    def _authenticate():
        agent = next((a for s in scopes if (a := api_agent(s)) is not None), None)
        if agent is None:
            return error_response(
                401,
                "unauthorized",
                f"a valid bearer token of scope {' or '.join(scopes)} is required",
            )
        g.agent = agent


def require_role(*roles: str):
    """Decorator: only agents with one of ``roles`` (admins always) may call."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            agent = g.agent
            if agent.role not in roles and not agent.is_admin:
                return error_response(403, "forbidden", f"needs the role {' or '.join(roles)}")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def constant_time_equal(a: str, b: str) -> bool:
    """Compare secrets without leaking their length of match through timing."""
    return hmac.compare_digest(a.encode(), b.encode())


__all__ = [
    "load_agent",
    "agent_for_token",
    "api_agent",
    "require_agent",
    "require_role",
    "session",
    "constant_time_equal",
]
