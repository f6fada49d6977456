"""The RQ worker: one app per process; jobs run inside its app context."""

from __future__ import annotations

import logging

from flask import current_app
from rq import SimpleWorker

from helpdesk.extensions import db
from helpdesk.jobs import QUEUES, queue, redis_connection

log = logging.getLogger(__name__)


class AppWorker(SimpleWorker):
    """Runs jobs in this process (no fork: database connections are not fork-safe)
    and gives every job a fresh database session."""

    def perform_job(self, *args, **kwargs):  # noqa: D102 - RQ's hook; its signature varies
        try:
            return super().perform_job(*args, **kwargs)
        finally:
            db.session.remove()


def run(burst: bool = False) -> None:
    """Work the default, outbound and mail queues (``burst``: until they are empty)."""
    worker = AppWorker([queue(name) for name in QUEUES], connection=redis_connection())
    log.info("worker for %s on %s", ", ".join(QUEUES), current_app.config["REDIS_URL"])
    worker.work(burst=burst, with_scheduler=True)
