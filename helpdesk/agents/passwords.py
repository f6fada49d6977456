"""Set-password links: an invitation to a new agent, or a reset for one who forgot.

A link carries a random token (``secrets.token_urlsafe(32)``); only its SHA-256 is
stored. It works once, until it expires, and only while its agent is active; a new link
for the same agent retires the older ones. Redeeming it sets the password through
``services.set_password`` (every older session ends) and answers the agent, whom the
page then logs in.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from helpdesk.agents import services
from helpdesk.agents.models import Agent, PasswordLink, hash_token
from helpdesk.audit import services as audit
from helpdesk.db import utcnow
from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db

LIFETIME = {"invite": timedelta(days=7), "reset": timedelta(hours=24)}


def issue(agent: Agent, purpose: str) -> tuple[PasswordLink, str]:
    """A new link of ``purpose`` ("invite" or "reset") for ``agent``; the row and the clear
    token (mailed, never stored). Earlier unused links of the agent stop working."""
    if purpose not in LIFETIME:
        raise ValueError(purpose)
    if not agent.active:
        raise Invalid(f"{agent.email} is deactivated", fields={"agent": "deactivated"})
    now = utcnow()
    db.session.execute(
        update(PasswordLink)
        .where(PasswordLink.agent_id == agent.id, PasswordLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    clear = secrets.token_urlsafe(32)
    row = PasswordLink(
        agent=agent,
        token_hash=hash_token(clear),
        purpose=purpose,
        created_at=now,
        expires_at=now + LIFETIME[purpose],
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        f"agent.{purpose}",
        object_type="agent",
        object_id=agent.id,
        after={"email": agent.email, "expires_at": row.expires_at.isoformat()},
    )
    return row, clear


def usable(clear: str) -> PasswordLink | None:
    """The link of this token while it works (unused, unexpired, its agent active)."""
    if not clear or len(clear) > 100:
        return None
    row = db.session.execute(
        select(PasswordLink).where(PasswordLink.token_hash == hash_token(clear))
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row if row.agent.active else None


def redeem(clear: str, password: str, confirm: str) -> Agent:
    """Set the password of the link's agent and use the link up; NotFound for a link that
    does not work (any reason alike), Invalid naming the field for a bad password."""
    row = usable(clear)
    if row is None:
        raise NotFound("this link has expired or has been used")
    if password != confirm:
        raise Invalid("the passwords differ", fields={"confirm": "does not match"})
    try:
        services.set_password(row.agent, password)
    except services.AgentError as exc:
        raise Invalid(str(exc), fields={"password": str(exc)}) from exc
    row.used_at = utcnow()
    db.session.flush()
    return row.agent
