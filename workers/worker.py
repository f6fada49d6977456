"""The RQ worker: one app per process; jobs run inside its app context."""
from __future__ import annotations

import logging

from flask import current_app
from rq import Worker

from helpdesk.jobs import QUEUES, queue, redis_connection

log = logging.getLogger(__name__)


def run(burst: bool = False) -> None:
    """Work the default, outbound and mail queues (``burst``: until they are empty)."""
    worker = Worker([queue(name) for name in QUEUES], connection=redis_connection())
    log.info("worker for %s on %s", ", ".join(QUEUES), current_app.config["REDIS_URL"])
    worker.work(burst=burst, with_scheduler=True)
