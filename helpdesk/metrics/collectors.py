"""What every process would report alike, read from the shared stores when scraped:
RQ's queue lengths and failed jobs (Redis), each mailbox's poll lag (the database)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import select

from helpdesk.channels.email.mailboxes import EMAIL
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from helpdesk.jobs import QUEUES, redis_connection

log = logging.getLogger(__name__)


class HelpdeskCollector:
    """Queue lengths, failed jobs and mail poll lag, read at each scrape (inside the
    scraping request's app context). A store that does not answer leaves its figures
    out (and logs why) rather than failing the whole scrape."""

    def collect(self) -> Iterator[Metric]:
        """The figures of this moment."""
        yield from self._queues()
        yield from self._mail_lag()

    def _queues(self) -> Iterator[Metric]:
        """Jobs waiting per queue, and jobs in each queue's failed registry."""
        connection = redis_connection()
        if connection is None:
            return  # no Redis: jobs run in-process, there are no queues
        from rq import Queue
        from rq.registry import FailedJobRegistry

        waiting = GaugeMetricFamily(
            "helpdesk_job_queue_length", "Jobs waiting in each RQ queue.", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "helpdesk_jobs_failed",
            "Jobs held in each RQ queue's failed registry (failed for good, kept for a while).",
            labels=["queue"],
        )
        try:
            for name in QUEUES:
                queue = Queue(name, connection=connection)
                waiting.add_metric([name], queue.count)
                failed.add_metric([name], FailedJobRegistry(queue=queue).count)
        except Exception:  # noqa: BLE001 - Redis down: no queue figures this time
            log.warning("metrics: the job queues could not be read", exc_info=True)
            return
        yield waiting
        yield failed

    def _mail_lag(self) -> Iterator[Metric]:
        """Seconds since each active mailbox's last successful poll (since it was added,
        while none has succeeded yet)."""
        lag = GaugeMetricFamily(
            "helpdesk_mail_poll_lag_seconds",
            "Seconds since the last successful poll of each active mailbox.",
            labels=["mailbox"],
        )
        try:
            rows = db.session.execute(
                select(Channel.name, Channel.state, Channel.created_at).where(
                    Channel.kind == EMAIL, Channel.active.is_(True)
                )
            ).all()
            db.session.rollback()  # end the read: a scrape holds no transaction open
        except Exception:  # noqa: BLE001 - database down: no lag figures this time
            db.session.rollback()
            log.warning("metrics: the mailboxes could not be read", exc_info=True)
            return
        now = time.time()
        for name, state, created_at in rows:
            lag.add_metric([name], max(0.0, now - last_success(state or {}, created_at)))
        yield lag


def last_success(state: dict[str, Any], created_at: datetime | None) -> float:
    """When a mailbox was last polled without error (a Unix time), from its stored poll
    state; its creation when no poll has succeeded yet."""
    stamp = state.get("last_success_at")
    if stamp is None and state.get("last_poll_at") and not state.get("last_error"):
        stamp = state["last_poll_at"]  # a state written before last_success_at was kept
    if stamp:
        try:
            return datetime.fromisoformat(stamp).timestamp()
        except (TypeError, ValueError):
            pass
    if created_at is None:
        return time.time()
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return created_at.timestamp()
