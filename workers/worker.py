"""The RQ worker: one app per process; jobs run inside its app context."""

from __future__ import annotations

import logging

from flask import current_app
from rq import SimpleWorker

from helpdesk.extensions import db
from helpdesk.jobs import QUEUES, queue, redis_connection
from helpdesk.metrics import logs, registry

log = logging.getLogger(__name__)


class AppWorker(SimpleWorker):
    """Runs jobs in this process (no fork: database connections are not fork-safe)
    and gives every job a fresh database session."""

    def subscribe(self) -> None:
        """RQ's own, with the listener polling every second instead of every minute: the
        listener waits its whole poll for a subscription that ``unsubscribe`` has already
        ended, and redis-py's ``stop`` joins it without a limit, so a worker whose burst
        ended just after it subscribed took up to a minute to exit."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def execute_job(self, job, queue):  # noqa: D102 - RQ's hook
        # Log the job's lines with the id of the request that enqueued it.
        with logs.carrying((job.meta or {}).get("request_id")):
            return super().execute_job(job, queue)

    def handle_job_failure(self, job, queue, *args, **kwargs):  # noqa: D102 - RQ's hook
        registry.count_job_failure(queue.name)
        return super().handle_job_failure(job, queue, *args, **kwargs)

    def perform_job(self, *args, **kwargs):  # noqa: D102 - RQ's hook; its signature varies
        try:
            return super().perform_job(*args, **kwargs)
        finally:
            db.session.remove()


def run(burst: bool = False) -> None:
    """Work the default, outbound, mail, webhooks and campaigns queues, in that order
    (``burst``: until they are empty): a campaign's slice waits for the jobs queued before it."""
    worker = AppWorker([queue(name) for name in QUEUES], connection=redis_connection())
    log.info("worker for %s on %s", ", ".join(QUEUES), current_app.config["REDIS_URL"])
    worker.work(burst=burst, with_scheduler=True)
