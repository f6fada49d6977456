"""The heartbeat of a web process with Redis, and the sweep that ends the dead's presence.

Every third of ``PRESENCE_TTL_SECONDS`` a web process that has had a connection moves
its entries' expiry on (``SharedPresence.beat``) and sweeps: agents whose every entry
has expired (their process died, or lost Redis for longer than the expiry) are marked
offline by whichever process claims them first, and tickets whose viewers' entries
expired are told who is left. The scheduler runs the same sweep (``sweep_job``) every
30 seconds, so a desk whose web processes all died is cleaned up too.
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


def sweep_job() -> None:
    """The scheduler's periodic sweep (nothing to do without Redis)."""
    sweep(of(current_app))


def run(app: Any, store: Any, stop: threading.Event) -> None:
    """The heartbeat thread: beat and sweep until ``stop`` is set. Errors (Redis or the
    database away for a moment) are logged and the next beat tries again."""
    while not stop.wait(store.heartbeat_seconds):
        try:
            store.beat()
            with app.app_context():
                sweep(store)
        except Exception:
            log.exception("presence heartbeat failed")
