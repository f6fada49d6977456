"""Periodic work, listed as data: (every N seconds, job path, queue)."""
from __future__ import annotations

import logging
import os
import time

from helpdesk import jobs

log = logging.getLogger(__name__)

PERIODIC: list[tuple[int, str, str]] = [
    (3600, "helpdesk.tickets.tasks:close_solved", "default"),
    # Each mailbox's poll is its own job on the "mail" queue (email_imap.poll_all).
    (int(os.environ.get("HELPDESK_MAIL_POLL_SECONDS", "60")),
     "helpdesk.channels.email_imap:poll_all", "mail"),
]


def due(last_run: dict[str, float], now: float) -> list[tuple[str, str]]:
    """The jobs whose interval has passed since they last ran (all of them at start)."""
    ready = []
    for every, path, queue_name in PERIODIC:
        if now - last_run.get(path, float("-inf")) >= every:
            last_run[path] = now
            ready.append((path, queue_name))
    return ready


def run(once: bool = False) -> None:
    """Enqueue periodic jobs when due (RQ), or run them here without Redis."""
    last_run: dict[str, float] = {}
    while True:
        for path, queue_name in due(last_run, time.monotonic()):
            log.info("periodic job %s", path)
            jobs.submit(path, queue_name=queue_name)
        if once:
            return
        time.sleep(5)
