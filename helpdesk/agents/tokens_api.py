"""REST API v1 for API tokens: ``GET|POST /tokens`` and ``DELETE /tokens/ID``.

An agent makes tokens for themselves; the clear token is in the answer to the POST and
never again (only its hash is stored). Agents list and revoke their own tokens; admins
see and revoke everyone's. Another agent's token answers 404, as if it did not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from flask import g, jsonify
from pydantic import StringConstraints
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents import services
from helpdesk.agents.models import SCOPES, Agent, ApiToken
from helpdesk.customers.schemas import Strict
from helpdesk.db import iso
from helpdesk.errors import Invalid, NotFound
from helpdesk.web.api import api_blueprint, get_or_404, paginate, parse_body
from helpdesk.web.openapi import Ref, Shape, documented

bp = api_blueprint("tokens_api", __name__, lock_writes=True)


class TokenIn(Strict):
    """POST /tokens: a new token of the caller (``expires_at`` absent: it never expires)."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    expires_at: datetime | None = None
    scope: Literal[SCOPES] = "api"  # type: ignore[valid-type]


class TokenOut(Shape):
    """A token as listed: never the token itself, only its first characters."""

    id: int
    name: str | None
    prefix: str
    scope: str
    agent: Ref
    created_at: str | None
    expires_at: str | None
    last_used_at: str | None
    state: str


class NewTokenOut(TokenOut):
    """A new token: ``token`` is shown this once."""

    token: str


def token_json(row: ApiToken) -> dict:
    """A token for the API, without its secret."""
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "scope": row.scope,
        "agent": {"id": row.agent.id, "name": row.agent.name},
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "last_used_at": iso(row.last_used_at),
        "state": services.token_state(row),
    }


def visible_tokens(agent: Agent):
    """A select of the tokens ``agent`` may see: their own, or everyone's for an admin."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    return query if agent.is_admin else query.where(ApiToken.agent_id == agent.id)


def visible_token(agent: Agent, token_id: int) -> ApiToken:
    """One token ``agent`` may see, else NotFound."""
    row = get_or_404(ApiToken, token_id, "token")
    if not agent.is_admin and row.agent_id != agent.id:
        raise NotFound("no such token")
    return row


def create(agent: Agent, name: str, expires_at: datetime | None, scope: str = "api"):
    """Issue a token for ``agent``; a refusal names the field it is about."""
    try:
        return services.issue_token(agent, scope, name, expires_at=expires_at)
    except services.AgentError as exc:
        field = "expires_at" if "expire" in str(exc) else "name"
        raise Invalid(str(exc), fields={field: str(exc)}) from exc


@bp.get("/tokens")
@documented(TokenOut, paged=True)
def list_tokens():
    """The caller's tokens (an admin: everyone's), newest first."""
    return jsonify(paginate(visible_tokens(g.agent), token_json))


@bp.post("/tokens")
@documented(NewTokenOut, status=201, body=TokenIn)
def create_token():
    """A new token of the caller; the token is in this answer only."""
    body = parse_body(TokenIn)
    row, clear = create(g.agent, body.name, body.expires_at, body.scope)
    unit_of_work.commit()
    return jsonify({**token_json(row), "token": clear}), 201


@bp.delete("/tokens/<int:token_id>")
@documented(None, status=204)
def revoke_token(token_id: int):
    """Revoke a token at once (the caller's own; an admin's: anyone's)."""
    row = visible_token(g.agent, token_id)
    services.revoke_token(row.id)
    unit_of_work.commit()
    return "", 204
