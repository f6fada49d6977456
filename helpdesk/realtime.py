"""Realtime for agents: the /agents Socket.IO namespace and after-commit emits into rooms.

Rooms: ``agent:<id>`` (one agent), ``team:<id>`` (a team's members),
``agents`` (everyone: tickets that belong to no team), ``admins``, ``presence``
(everyone, account managers too). A ticket's events go to exactly the rooms whose
members may open it (see agents.access).

Account managers (``own_accounts_only``) join none of the first four but the same rooms
behind the door of their own accounts: ``accounts:<their id>:<room>``. An event about
a customer goes to its rooms and, for each agent who manages that customer, to
``accounts:<manager>:<room>`` (``for_accounts``); so an account manager hears a ticket
when the ticket rule lets them see it and the customer is theirs, and nothing about a
customer who is not (nor about an unknown caller).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import socketio as python_socketio  # the library under Flask-SocketIO (`socketio` is ours)
from flask import Flask, current_app, request
from flask_login import current_user
from flask_socketio import join_room, leave_room

from helpdesk import fanout, presence, unit_of_work
from helpdesk.extensions import db, socketio
from helpdesk.metrics.sockets import CountedNamespace
from helpdesk.origins import cors_check, same_origin
from helpdesk.presence import status

if TYPE_CHECKING:
    from helpdesk.agents.models import Agent
    from helpdesk.customers.models import Customer
    from helpdesk.tickets.models import Ticket

log = logging.getLogger(__name__)
AGENTS = status.AGENTS
_MANAGER = "helpdesk_socketio_manager"  # app.extensions key of the app's client manager
# Called with (agent_id, status) after an agent's presence changed (on_presence_change).
PRESENCE_LISTENERS = status.LISTENERS
# What an event carries: its payload, or a function making it (built only when wanted).
Payload = dict[str, Any] | Callable[[], dict[str, Any]]
# Called with (event, payload) in the transaction announcing it: outbound webhooks.
ANNOUNCE_LISTENERS: list[Callable[[str, Payload], None]] = []


def on_announce(listener: Callable[[str, Payload], None]) -> None:
    """Call ``listener(event, payload)`` for every event announced, in its transaction."""
    if listener not in ANNOUNCE_LISTENERS:
        ANNOUNCE_LISTENERS.append(listener)


def announce(event: str, payload: Payload) -> None:
    """Tell ``on_announce``'s listeners about ``event`` (alone: ``customer.*``, which no
    agent room hears; every ``emit_after_commit`` too)."""
    for listener in ANNOUNCE_LISTENERS:
        listener(event, payload)


def on_presence_change(listener: Callable[[int, str], None]) -> None:
    """Call ``listener(agent_id, status)`` after an agent's presence changed."""
    if listener not in PRESENCE_LISTENERS:
        PRESENCE_LISTENERS.append(listener)


def for_accounts(rooms: Iterable[str], customer: Customer | None) -> set[str]:
    """``rooms``, and the same rooms as the account managers of ``customer`` hear them
    (``accounts:<manager>:<room>``; none for an unknown customer)."""
    from helpdesk.agents.access import managers

    rooms = set(rooms)
    return rooms | {f"accounts:{m}:{room}" for m in managers(customer) for room in rooms}


def ticket_rooms(ticket: Ticket, previous: Iterable[str] = ()) -> list[str]:
    """The rooms of everyone who may see ``ticket`` (plus rooms that could see it before)."""
    rooms = {"admins"}
    rooms.add(f"team:{ticket.team_id}" if ticket.team_id else "agents")
    if ticket.assignee_id:
        rooms.add(f"agent:{ticket.assignee_id}")
    return sorted(for_accounts(rooms, ticket.customer) | set(previous))


def personal_room(agent: Agent) -> str:
    """The room only ``agent`` is in (for notifications addressed to them)."""
    room = f"agent:{agent.id}"
    return f"accounts:{agent.id}:{room}" if agent.own_accounts_only else room


def agent_rooms(agent: Agent) -> list[str]:
    """The rooms an agent joins on connect (an account manager: behind their door)."""
    rooms = [f"agent:{agent.id}", "agents"] + [f"team:{t.id}" for t in agent.teams]
    if agent.is_admin:
        rooms.append("admins")
    if agent.own_accounts_only:
        rooms = [f"accounts:{agent.id}:{room}" for room in rooms]
    return [*rooms, "presence"]


def emit_after_commit(event: str, payload: dict[str, Any], rooms: list[str]) -> None:
    """Emit ``event`` to ``rooms`` on /agents after the commit (``announce`` it now)."""
    announce(event, payload)
    unit_of_work.after_commit(lambda: socketio.emit(event, payload, to=rooms, namespace=AGENTS))


def agent_from_token(token: str | None) -> Agent | None:
    """The active agent behind an API token, or None."""
    from helpdesk.agents import auth

    return auth.agent_for_token(token) if token else None


def current_sid() -> str:
    """The Socket.IO session id of the event being handled (Flask-SocketIO sets it on
    the request; Flask's type hints do not know it)."""
    sid: str = request.sid  # type: ignore[attr-defined]  # added by Flask-SocketIO
    return sid


def _enter(room: str) -> bool:
    """Join ``room``; False when this connection has gone meanwhile: each event is handled
    in a thread of its own, and a page left while its event ran (an agent moving on from a
    ticket) is disconnected before its handler joins (python-socketio raises)."""
    try:
        join_room(room)
    except (ValueError, KeyError):  # the namespace's last connection gone / this one gone
        return False
    return True


def _store() -> presence.Presence:
    return presence.of(current_app)


class AgentsNamespace(CountedNamespace):
    """Agents' live connection from our own origin: session cookie or API token (scope
    ``api``), refused otherwise.

    Besides the server's events it carries presence (``presence`` {"status":
    "online"|"away"}) and who is viewing or typing on a ticket (``viewing``
    {"ticket", "typing"}, ``leave`` {"ticket"}), answered with ``viewers`` to the
    ``ticket:<id>`` room. Connections and viewers are kept by the app's store
    (``helpdesk/presence``): in this process, and with Redis in Redis for every web
    process: an agent goes offline when their last connection anywhere closes (or its
    process dies and its entries expire).
    """

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self._lock = threading.Lock()
        # sid -> SHA-256 of the API token it came with (disconnect_token; this process's)
        self._token_of: dict[str, str] = {}

    def on_connect(self, auth: object = None) -> None:
        """Authenticate, join the agent's rooms and mark the agent online."""
        from flask_socketio import ConnectionRefusedError

        if not same_origin():
            # Only our own pages: a page elsewhere gets no agent connection, neither with
            # the session cookie nor with a token (the engine's CORS answers every origin
            # because /chat serves customers' websites; this is where /agents says no).
            log.warning(
                "agents connection refused from origin %r", request.environ.get("HTTP_ORIGIN")
            )
            raise ConnectionRefusedError("origin not allowed")
        agent = current_user if current_user.is_authenticated else None
        token = None
        if agent is None and isinstance(auth, dict):
            agent, token = agent_from_token(auth.get("token")), str(auth.get("token"))
        if agent is None:
            raise ConnectionRefusedError("unauthorized")
        for room in agent_rooms(agent):
            join_room(room)
        store = _store()
        store.start(current_app._get_current_object())  # type: ignore[attr-defined]  # a LocalProxy
        with store.agent_lock(agent.id):
            first = store.connect(current_sid(), agent.id)
            if first and status.stored_presence(agent.id) == "offline":
                status.set_presence(agent.id, "online")
        if token is not None:  # as agents.models.hash_token stores it
            with self._lock:
                self._token_of[current_sid()] = hashlib.sha256(token.encode()).hexdigest()
        log.debug("agent %s connected as %s", agent.id, current_sid())

    def on_disconnect(self, reason: object = None) -> None:
        """Leave every ticket; the agent's last connection going marks them offline."""
        store = _store()
        agent_id, last, left = store.disconnect(current_sid())
        with self._lock:
            self._token_of.pop(current_sid(), None)
        for ticket_id in left:
            status.announce_viewers(store, ticket_id)
        if last and agent_id is not None:
            # Moving from one page to the next closes a connection and opens another:
            # wait a moment before calling the agent offline.
            app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy
            grace = current_app.config["PRESENCE_GRACE_SECONDS"]
            if grace <= 0:
                self._offline_unless_back(app, agent_id, 0)
            else:
                socketio.start_background_task(self._offline_unless_back, app, agent_id, grace)

    @staticmethod
    def _offline_unless_back(app: Flask, agent_id: int, grace: float) -> None:
        if grace > 0:
            socketio.sleep(grace)
        try:
            store = app.extensions.get(presence.KEY)
            if store is None:  # the app has shut down meanwhile
                return
            with app.app_context():
                with store.agent_lock(agent_id):
                    if store.release(agent_id):
                        status.set_presence(agent_id, "offline")
        except Exception:  # a background thread: log, never raise into the server
            log.exception("could not mark agent %s offline", agent_id)

    def on_presence(self, data: object = None) -> dict[str, str]:
        """The agent sets themselves online or away; their softphone, on a call and back."""
        wanted = (data or {}).get("status") if isinstance(data, dict) else None
        store = _store()
        agent_id = store.agent_of(current_sid())
        if wanted not in ("online", "away", "on_call") or agent_id is None:
            return {"error": "status must be online, away or on_call"}
        with store.agent_lock(agent_id):
            status.set_presence(agent_id, wanted)
        return {"status": wanted}

    def on_viewing(self, data: Any = None) -> dict[str, Any]:
        """The agent has ticket ``data["ticket"]`` open (and is typing, if ``typing``)."""
        ticket = self._ticket(data)
        if ticket is None:
            return {"error": "no such ticket"}
        from helpdesk.agents.models import Agent

        store = _store()
        agent = db.session.get(Agent, store.agent_of(current_sid()) or 0)
        if agent is None:
            return {"error": "not connected"}
        if not _enter(f"ticket:{ticket.id}"):
            return {"error": "not connected"}
        viewer = {"id": agent.id, "name": agent.name, "typing": bool(data.get("typing"))}
        if not store.view(ticket.id, current_sid(), viewer):
            return {"error": "not connected"}
        status.announce_viewers(store, ticket.id)
        from helpdesk.channels.base import adapter_for

        adapter = adapter_for(ticket.channel)
        if adapter is not None and "typing" in data:
            adapter.on_agent_typing(ticket, agent, bool(data.get("typing")))
        return {"ok": True}

    def on_leave(self, data: object = None) -> None:
        """The agent closed the ticket."""
        ticket_id = data.get("ticket") if isinstance(data, dict) else None
        if isinstance(ticket_id, int):
            leave_room(f"ticket:{ticket_id}")
            store = _store()
            if store.unview(ticket_id, current_sid()):
                status.announce_viewers(store, ticket_id)

    def _ticket(self, data: object) -> Ticket | None:
        """The ticket named in ``data`` if this connection's agent may open it."""
        from helpdesk.agents.access import can_see_ticket
        from helpdesk.agents.models import Agent
        from helpdesk.tickets.models import Ticket

        ticket_id = data.get("ticket") if isinstance(data, dict) else None
        agent_id = _store().agent_of(current_sid())
        if not isinstance(ticket_id, int) or agent_id is None or not 0 < ticket_id < 2**31:
            return None
        ticket = db.session.get(Ticket, ticket_id)
        agent = db.session.get(Agent, agent_id)
        return ticket if ticket is not None and can_see_ticket(agent, ticket) else None


def disconnect_agent(agent_id: int) -> None:
    """Close ``agent_id``'s live connections: the rooms they joined no longer fit what
    they may see (agents.services.update_agent). With Redis, those to every web process
    (the store knows their sids; Socket.IO's message queue asks the process holding a
    connection to close it)."""
    if socketio.server is None or presence.KEY not in current_app.extensions:
        return  # not serving (a command, a job)
    for sid in _store().all_sids(agent_id):
        socketio.server.disconnect(sid, namespace=AGENTS)


def disconnect_token(token_hash: str) -> None:
    """Close this process's connections made with a revoked token (its SHA-256)."""
    with _agents._lock:
        sids = [sid for sid, hashed in _agents._token_of.items() if hashed == token_hash]
    for sid in sids if socketio.server is not None else []:
        socketio.server.disconnect(sid, namespace=AGENTS)


def init_app(app: Flask) -> None:
    """Bind Socket.IO (with Redis fan-out when configured) and register the namespace.

    Every app gets a client manager of its own, made here and ended with the app by
    ``shutdown`` (``fanout.py`` says why: Flask-SocketIO would hand one app's Redis
    manager to every later app).
    """
    url = app.config.get("REDIS_URL")
    manager = (
        fanout.RedisManager(url, channel=app.config["SOCKETIO_CHANNEL"])
        if url
        else python_socketio.Manager()
    )
    app.extensions[_MANAGER] = manager
    socketio.init_app(
        app,
        client_manager=manager,
        async_mode="threading",
        manage_session=False,
        # CORS for our own pages and the chat widgets' websites; /chat checks each
        # channel's own websites again, /agents refuses every origin but ours.
        cors_allowed_origins=cors_check(app),
        # A chat visitor's file comes as one packet (base64 when polling: a third more).
        max_http_buffer_size=int(app.config["CHAT_UPLOAD_MAX_BYTES"] * 1.4) + 65536,
    )
    presence.init_app(app)


def shutdown(app: Flask, timeout: float = 5.0) -> bool:
    """End ``app``'s Socket.IO Redis listener thread and presence heartbeat and close
    their Redis connections (nothing to do without Redis). Whether no listener is left running."""
    presence.shutdown(app)
    manager = app.extensions.pop(_MANAGER, None)
    return manager.stop(timeout) if isinstance(manager, fanout.RedisManager) else True


_agents = AgentsNamespace(AGENTS)
socketio.on_namespace(_agents)
