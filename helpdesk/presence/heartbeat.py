"""The heartbeat of a web process with Redis, and the sweep that ends the dead's presence.

Every third of ``PRESENCE_TTL_SECONDS`` a web process that has had a connection moves
its entries' expiry on (``SharedPresence.beat``) and sweeps: agents whose every entry
has expired (their process died, or lost Redis for longer than the expiry) are marked
offline by whichever process claims them first, and tickets whose viewers' entries
expired are told who is left. A process that stalled past the expiry while its agents
stayed connected finds them lapsed at its next beat and marks them online again. The
scheduler runs the same sweep (``sweep_job``) every 30 seconds, so a desk whose web
processes all died is cleaned up too.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import current_app

from helpdesk.presence import status
from helpdesk.presence.store import Presence, of

log = logging.getLogger(__name__)


def sweep(store: Presence) -> tuple[list[int], list[int]]:
    """Mark agents no live process holds offline and announce tickets whose viewers
    expired (in an app context); the agents and tickets it did that for."""
    offline = []
    for agent_id in store.gone_agents():
        with store.agent_lock(agent_id):
            if store.claim_gone(agent_id):
                status.set_presence(agent_id, "offline")
                offline.append(agent_id)
    tickets = store.stale_tickets()
    for ticket_id in tickets:
        status.announce_viewers(store, ticket_id)
    if offline:
        log.info("presence: agents %s had no live connection left: offline", offline)
    return offline, tickets


def revive(store: Presence, agent_ids: list[int]) -> None:
    """Agents still connected here whose entries had lapsed (this process stalled for
    longer than the expiry): online again if a sweep marked them offline meanwhile."""
    for agent_id in agent_ids:
        with store.agent_lock(agent_id):
            if store.sids_of(agent_id) and status.stored_presence(agent_id) == "offline":
                status.set_presence(agent_id, "online")


def sweep_job() -> None:
    """The scheduler's periodic sweep (nothing to do without Redis)."""
    sweep(of(current_app))


def run(app: Any, store: Any, stop: threading.Event) -> None:
    """The heartbeat thread: beat and sweep until ``stop`` is set. Errors (Redis or the
    database away for a moment) are logged and the next beat tries again."""
    while not stop.wait(store.heartbeat_seconds):
        try:
            lapsed = store.beat()
            with app.app_context():
                revive(store, lapsed)
                sweep(store)
        except Exception:
            log.exception("presence heartbeat failed")
