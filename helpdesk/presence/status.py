"""An agent's presence written and told; who has a ticket open told.

``agents.presence`` is where every reader looks (``GET /api/v1/agents``, the
assignment's "only online agents", the softphone's ringing, chat, the board); it is
written only here, by the process that saw the change (a first connection, the last
one gone, the agent's own switch, or the sweep that found a dead process's agents),
under the agent's lock, so with Redis it follows the shared state within the expiry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from helpdesk import unit_of_work
from helpdesk.extensions import db, socketio
from helpdesk.presence.store import Presence

log = logging.getLogger(__name__)
AGENTS = "/agents"
# Called with (agent_id, status) after an agent's presence changed.
LISTENERS: list[Callable[[int, str], None]] = []


def stored_presence(agent_id: int) -> str | None:
    """The agent's presence as committed now (not as loaded with the session's user:
    a disconnect may have marked them offline since)."""
    from sqlalchemy import select

    from helpdesk.agents.models import Agent

    db.session.rollback()  # a fresh snapshot: SQLite's WAL reads keep their first one
    presence: str | None = db.session.scalar(select(Agent.presence).where(Agent.id == agent_id))
    return presence


def set_presence(agent_id: int, status: str) -> None:
    """Store the agent's presence and tell every agent (the room ``presence``, in every
    process through the Socket.IO message queue), then the listeners."""
    from sqlalchemy import update

    from helpdesk.agents.models import Agent

    db.session.rollback()  # a write transaction of its own, taking SQLite's lock up front
    with unit_of_work.writing():
        db.session.execute(update(Agent).where(Agent.id == agent_id).values(presence=status))
        unit_of_work.commit()
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        return
    socketio.emit(
        "presence",
        {"agent": {"id": agent.id, "name": agent.name}, "status": status},
        to="presence",
        namespace=AGENTS,
    )
    for listener in LISTENERS:
        try:
            listener(agent.id, status)
        except Exception:  # a listener's failure must not break presence
            log.exception("presence listener %r failed", listener)


def announce_viewers(store: Presence, ticket_id: int) -> None:
    """Tell the ticket's room who has it open now."""
    socketio.emit(
        "viewers",
        {"ticket": ticket_id, "agents": store.viewers(ticket_id)},
        to=f"ticket:{ticket_id}",
        namespace=AGENTS,
    )
