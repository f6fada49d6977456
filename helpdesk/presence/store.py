"""This process's connections and viewers; without Redis, all there is.

The namespace (``realtime.AgentsNamespace``) asks the same questions of either store:
is this the agent's first connection anywhere (``connect``), is nobody left anywhere
once this process's last connection has gone and its grace is over (``release``), who
has a ticket open (``viewers``). ``agent_lock`` is held across such an answer and the
presence write that follows it, so that a connection arriving while another one's
disconnect marks the agent offline cannot leave a connected agent offline.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

KEY = "helpdesk_presence"  # app.extensions key of the app's store


def of(app: Any) -> Presence:
    """``app``'s store (``presence.init_app``)."""
    store: Presence = app.extensions[KEY]
    return store


class Presence:
    """In-process presence: one server sees every connection."""

    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the dicts below
        self._presence_lock = threading.Lock()  # agent_lock: one for every agent here
        self._agent_of: dict[str, int] = {}  # sid -> agent id
        self._viewers: dict[int, dict[str, dict[str, Any]]] = {}  # ticket -> sid -> viewer

    # -- this process's connections ------------------------------------------------

    def agent_of(self, sid: str) -> int | None:
        """The agent of this process's connection ``sid``."""
        return self._agent_of.get(sid)

    def sids_of(self, agent_id: int) -> list[str]:
        """This process's connections of ``agent_id``."""
        with self._lock:
            return [sid for sid, agent in self._agent_of.items() if agent == agent_id]

    def all_sids(self, agent_id: int) -> list[str]:
        """The connections of ``agent_id`` in every process."""
        return self.sids_of(agent_id)

    def local_counts(self) -> dict[int, int]:
        """Connections per agent in this process."""
        counts: dict[int, int] = {}
        with self._lock:
            for agent_id in self._agent_of.values():
                counts[agent_id] = counts.get(agent_id, 0) + 1
        return counts

    def _add_local(self, sid: str, agent_id: int) -> int:
        """Register ``sid``; the agent's connections here now."""
        with self._lock:
            self._agent_of[sid] = agent_id
            return sum(1 for agent in self._agent_of.values() if agent == agent_id)

    @contextmanager
    def agent_lock(self, agent_id: int) -> Iterator[None]:
        """Held across "is the agent still/again connected?" and the presence write."""
        with self._presence_lock:
            yield

    def connect(self, sid: str, agent_id: int) -> bool:
        """Register connection ``sid`` of ``agent_id``; whether it is the agent's first
        (no other connection of theirs anywhere). Under ``agent_lock``."""
        return self._add_local(sid, agent_id) == 1

    def disconnect(self, sid: str) -> tuple[int | None, bool, list[int]]:
        """Forget connection ``sid``: its agent, whether it was their last one in this
        process, and the tickets it was viewing (left now)."""
        with self._lock:
            agent_id = self._agent_of.pop(sid, None)
            last = agent_id is not None and agent_id not in self._agent_of.values()
            viewing = [ticket_id for ticket_id, seen in self._viewers.items() if sid in seen]
        left = [ticket_id for ticket_id in viewing if self.unview(ticket_id, sid)]
        if agent_id is not None:
            self._count_changed(agent_id)
        return agent_id, last, left

    def release(self, agent_id: int) -> bool:
        """The agent's grace is over and this process holds no connection of theirs:
        whether none is left anywhere (then the caller marks them offline; exactly one
        caller is told so). Under ``agent_lock``."""
        with self._lock:
            return agent_id not in self._agent_of.values()

    def _count_changed(self, agent_id: int) -> None:
        """The number of this process's connections of ``agent_id`` changed."""

    # -- who has a ticket open -------------------------------------------------------

    def view(self, ticket_id: int, sid: str, viewer: dict[str, Any]) -> bool:
        """Connection ``sid`` has ``ticket_id`` open as ``viewer`` ({"id", "name",
        "typing"}); False if the connection has closed meanwhile (its disconnect ran in
        another thread: a viewer without a connection would never leave)."""
        with self._lock:
            if sid not in self._agent_of:
                return False
            self._viewers.setdefault(ticket_id, {})[sid] = viewer
        return True

    def unview(self, ticket_id: int, sid: str) -> bool:
        """Connection ``sid`` closed ``ticket_id``; whether it had it open."""
        with self._lock:
            seen = self._viewers.get(ticket_id, {})
            gone = seen.pop(sid, None)
            if not seen:
                self._viewers.pop(ticket_id, None)
        return gone is not None

    def viewers(self, ticket_id: int) -> list[dict[str, Any]]:
        """Who has ``ticket_id`` open, one entry per agent (typing in any connection)."""
        people: dict[int, dict[str, Any]] = {}
        for viewer in self._all_viewers(ticket_id):
            known = people.setdefault(viewer["id"], dict(viewer))
            known["typing"] = known["typing"] or viewer["typing"]
        return list(people.values())

    def _all_viewers(self, ticket_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._viewers.get(ticket_id, {}).values())

    def local_viewers(self) -> list[tuple[int, str, dict[str, Any]]]:
        """(ticket, sid, viewer) of this process's connections."""
        with self._lock:
            return [
                (ticket_id, sid, viewer)
                for ticket_id, seen in self._viewers.items()
                for sid, viewer in seen.items()
            ]

    # -- across processes (nothing to do in one) -------------------------------------

    def start(self, app: Any) -> None:
        """Start the heartbeat (shared stores only)."""

    def beat(self) -> list[int]:
        """Refresh this process's shared entries; the connected agents that had lapsed."""
        return []

    def gone_agents(self) -> list[int]:
        """Agents registered as connected whose every process's entry has expired."""
        return []

    def claim_gone(self, agent_id: int) -> bool:
        """Whether ``agent_id`` is held by no live process and this call claimed them (the
        caller marks them offline). Under ``agent_lock``."""
        return False

    def stale_tickets(self) -> list[int]:
        """Tickets some of whose viewers' entries expired (dropped now)."""
        return []

    def close(self) -> None:
        """Stop the heartbeat and let go of connections."""
