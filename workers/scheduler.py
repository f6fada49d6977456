"""Periodic work, listed as data: (every N seconds, job path, queue)."""

from __future__ import annotations

import logging
import os
import threading
import time

from helpdesk import jobs

log = logging.getLogger(__name__)

PERIODIC: list[tuple[int, str, str]] = [
    (3600, "helpdesk.tickets.services:close_solved", "default"),
    # Warn before SLA due times and escalate breaches (tickets/sla.py).
    (60, "helpdesk.sla.scan:scan", "default"),
    # Satisfaction surveys of tickets solved long enough ago (helpdesk/surveys).
    (60, "helpdesk.surveys.services:send_due", "default"),
    # The weekly report mail (Mondays from 07:00; marked per week, never sent twice).
    (3600, "helpdesk.reports.weekly:send_weekly", "default"),
    # Replies left queued (their job lost, or a transient failure's retry due).
    (60, "helpdesk.channels.delivery:requeue", "outbound"),
    # Outbound webhook deliveries due whose job was lost (Redis) or, without Redis, all
    # due ones: sent from here, never from a request (helpdesk/webhooks/delivery.py).
    (10, "helpdesk.webhooks.delivery:requeue", "webhooks"),
    # Segments kept in sync with MailChimp audiences (helpdesk/integrations/mailchimp).
    (3600, "helpdesk.integrations.mailchimp.sync:sync_all", "default"),
    # Twilio webhooks spooled while the database was down (channels/twilio/spool.py).
    (30, "helpdesk.channels.twilio.spool:drain", "default"),
    # Raw mail sources and webhook bodies past HELPDESK_RAW_RETENTION_DAYS (audit/retention.py).
    (3600, "helpdesk.audit.retention:run", "default"),
    # The stored duplicate pairs (duplicates/candidates.py), besides after CRM writes.
    (600, "helpdesk.duplicates.candidates:run", "default"),
    # Agents and viewers of web processes that died (helpdesk/presence/heartbeat.py).
    (30, "helpdesk.presence.heartbeat:sweep_job", "default"),
    # Campaigns: scheduled ones due, senders that died (helpdesk/campaigns/recovery.py).
    (30, "helpdesk.campaigns.recovery:resume", "default"),
    # Each mailbox's poll is its own job on the "mail" queue (email_imap.poll_all).
    (
        int(os.environ.get("HELPDESK_MAIL_POLL_SECONDS", "60")),
        "helpdesk.channels.email.imap:poll_all",
        "mail",
    ),
]


def due(last_run: dict[str, float], now: float) -> list[tuple[str, str]]:
    """The jobs whose interval has passed since they last ran (all of them at start)."""
    ready = []
    for every, path, queue_name in PERIODIC:
        if now - last_run.get(path, float("-inf")) >= every:
            last_run[path] = now
            ready.append((path, queue_name))
    return ready


def _submit(path: str, queue_name: str) -> None:
    """Submit one periodic job; a failure (Redis or the database down) is logged and the
    loop goes on: the job is due again at its next interval."""
    try:
        jobs.submit(path, queue_name=queue_name)
    except Exception:
        log.exception("periodic job %s could not run or be enqueued", path)


def start_in_thread(app) -> threading.Thread:
    """Without Redis, `helpdesk serve` does the periodic work itself: this loop in a
    daemon thread, each job in an app context (and so a database session) of its own."""

    def loop() -> None:
        last_run: dict[str, float] = {}
        while True:
            for path, queue_name in due(last_run, time.monotonic()):
                with app.app_context():
                    _submit(path, queue_name)
            time.sleep(5)

    thread = threading.Thread(target=loop, name="helpdesk-scheduler", daemon=True)
    thread.start()
    return thread


def run(once: bool = False) -> None:
    """Enqueue periodic jobs when due (RQ), or run them here without Redis."""
    last_run: dict[str, float] = {}
    while True:
        for path, queue_name in due(last_run, time.monotonic()):
            log.info("periodic job %s", path)
            _submit(path, queue_name)
        if once:
            return
        time.sleep(5)
