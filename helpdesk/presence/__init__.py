"""Who is connected and who has which ticket open, for every web process alike.

``store.Presence`` keeps this process's Socket.IO connections (sid -> agent) and viewers
(ticket -> sid -> viewer) and, without Redis, is the whole truth (one server).
``shared.SharedPresence`` (``REDIS_URL`` set) adds the same facts to Redis with an
expiry that each process's heartbeat refreshes (``heartbeat.py``): an agent is online
while any live process holds a connection of theirs, and a process that dies (SIGKILL)
loses its agents and viewers once its entries expire (``PRESENCE_TTL_SECONDS``), when
the next sweep of any process (or the scheduler's) finds them. ``status.py`` writes an
agent's presence to ``agents.presence`` (the column every reader uses: the API, the
assignment, the softphone's ringing, chat, the board) and tells every agent.
"""

from __future__ import annotations

from flask import Flask

from helpdesk.presence.store import KEY, Presence, of

__all__ = ["Presence", "init_app", "of", "shutdown"]


def init_app(app: Flask) -> Presence:
    """Give ``app`` its store: shared through Redis when ``REDIS_URL`` is set."""
    url = app.config.get("REDIS_URL")
    if url:
        from helpdesk.presence.shared import SharedPresence

        store: Presence = SharedPresence(url, app.config["PRESENCE_TTL_SECONDS"])
    else:
        store = Presence()
    app.extensions[KEY] = store
    return store


def shutdown(app: Flask) -> None:
    """Stop ``app``'s heartbeat and close its Redis connection (nothing without Redis)."""
    store = app.extensions.pop(KEY, None)
    if store is not None:
        store.close()
