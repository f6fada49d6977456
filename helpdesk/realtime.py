"""Realtime for agents: the /agents Socket.IO namespace and after-commit emits into rooms.

Rooms: ``agent:<id>`` (one agent), ``team:<id>`` (a team's members),
``agents`` (everyone: tickets that belong to no team), ``admins``. A ticket's
events go to exactly the rooms whose members may open it (see agents.access).
"""
from __future__ import annotations

import logging

from flask import request
from flask_login import current_user
from flask_socketio import Namespace, join_room

from . import unit_of_work
from .extensions import socketio

log = logging.getLogger(__name__)
AGENTS = "/agents"


def ticket_rooms(ticket, previous=()) -> list[str]:
    """The rooms of everyone who may see ``ticket`` (plus rooms that could see it before)."""
    rooms = {"admins"}
    rooms.add(f"team:{ticket.team_id}" if ticket.team_id else "agents")
    if ticket.assignee_id:
        rooms.add(f"agent:{ticket.assignee_id}")
    return sorted(rooms | set(previous))


def agent_rooms(agent) -> list[str]:
    """The rooms an agent joins on connect."""
    rooms = [f"agent:{agent.id}", "agents"] + [f"team:{t.id}" for t in agent.teams]
    if agent.is_admin:
        rooms.append("admins")
    return rooms


def emit_after_commit(event: str, payload: dict, rooms: list[str]) -> None:
    """Emit ``event`` to ``rooms`` on /agents once the transaction has committed."""
    unit_of_work.after_commit(lambda: socketio.emit(event, payload, to=rooms, namespace=AGENTS))


def agent_from_token(token: str | None):
    """The active agent behind an API token, or None."""
    from .agents import auth

    return auth.agent_for_token(token) if token else None


class AgentsNamespace(Namespace):
    """Agents' live connection: session cookie or API token, refused otherwise."""

    def on_connect(self, auth=None):
        """Authenticate and join the agent's rooms."""
        from flask_socketio import ConnectionRefusedError

        agent = current_user if current_user.is_authenticated else None
        if agent is None and isinstance(auth, dict):
            agent = agent_from_token(auth.get("token"))
        if agent is None:
            raise ConnectionRefusedError("unauthorized")
        for room in agent_rooms(agent):
            join_room(room)
        log.debug("agent %s connected as %s", agent.id, request.sid)

    def on_disconnect(self, reason=None):
        """Nothing to clean up: rooms die with the connection."""


def init_app(app) -> None:
    """Bind Socket.IO (with Redis fan-out when configured) and register the namespace."""
    socketio.init_app(app, message_queue=app.config.get("REDIS_URL"), async_mode="threading",
                      channel=app.config["SOCKETIO_CHANNEL"], manage_session=False)


socketio.on_namespace(AgentsNamespace(AGENTS))
