"""The delivery job (RQ queue ``webhooks``): one try of one delivery, and its retries.

``deliver(uid)`` claims the delivery with a conditional UPDATE (pending, due, not being
sent by another job within ``LEASE``; ``tries`` + 1) and commits before it sends, so two
jobs never send one delivery at once and no database lock is held while the receiver
answers. A 2xx answer marks it delivered; any other answer, a timeout or a refused
connection schedules the next try after the next of ``WEBHOOK_RETRY_DELAYS`` (10 s, 1 min,
5 min, ... up to a day in all), under the same ``X-Helpdesk-Delivery``; when they are spent
it is failed. An address that may not be called (``transport.Refused``) fails at once.
The state lives in the row: a retry whose scheduled job is lost (a worker restart, Redis
down) is sent by the periodic ``requeue``.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import CursorResult, or_, select, update

from helpdesk import jobs, unit_of_work
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.webhooks import signing, transport
from helpdesk.webhooks.events import JOB, QUEUE
from helpdesk.webhooks.models import WebhookDelivery

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)  # a claim older than this belonged to a worker that died
REQUEUE_GRACE = timedelta(seconds=60)  # with Redis: a due delivery's own job goes first


def _claim(uid: str) -> bool:
    """Take the delivery for one try (see the module); committed."""
    now = utcnow()
    rows = WebhookDelivery
    with unit_of_work.writing():
        result: CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
            update(rows)
            .where(
                rows.uid == uid,
                rows.status == "pending",
                or_(
                    rows.next_attempt_at.is_(None),
                    rows.next_attempt_at <= now + timedelta(seconds=1),
                ),
                or_(rows.sending_since.is_(None), rows.sending_since < now - LEASE),
            )
            .values(sending_since=now, tries=rows.tries + 1, last_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return bool(result.rowcount)


def deliver(uid: str) -> None:
    """Send one try of delivery ``uid`` and record the answer (see the module)."""
    if not _claim(uid):
        return
    row = db.session.execute(select(WebhookDelivery).where(WebhookDelivery.uid == uid)).scalar_one()
    url, secret, body, event, tries = (
        row.webhook.url,
        row.webhook.secret,
        row.body.encode(),
        row.event,
        row.tries,
    )
    db.session.commit()  # no transaction (nor SQLite lock) held while the receiver answers
    config = current_app.config
    timestamp = int(time.time())
    refused = None
    try:
        answer = transport.post(
            url,
            body,
            signing.headers(secret, event, uid, timestamp, body),
            timeout=config["WEBHOOK_TIMEOUT"],
            allow_private=config["WEBHOOK_ALLOW_PRIVATE"],
        )
    except transport.Refused as exc:
        refused = str(exc)
        answer = transport.Answer(None, "", 0, f"refused: {refused}"[: transport.SNIPPET])
    delays = config["WEBHOOK_RETRY_DELAYS"]
    delay = None if answer.ok or refused or tries > len(delays) else delays[tries - 1]
    _record(uid, answer, delay)
    if delay is not None:
        schedule(uid, delay)


def _record(uid: str, answer: transport.Answer, delay: float | None) -> None:
    """Store the answer of a try and what comes next."""
    now = utcnow()
    with unit_of_work.writing():
        row = db.session.execute(
            select(WebhookDelivery).where(WebhookDelivery.uid == uid)
        ).scalar_one_or_none()
        if row is None:  # its webhook was deleted meanwhile
            db.session.rollback()
            return
        row.sending_since = None
        row.last_status_code = answer.status
        row.last_response = answer.snippet[: transport.SNIPPET] or None
        row.last_error = answer.error
        row.last_duration_ms = answer.duration_ms
        if answer.ok:
            row.status, row.delivered_at, row.next_attempt_at = "delivered", now, None
        elif delay is None:
            row.status, row.next_attempt_at = "failed", None
        else:
            row.next_attempt_at = now + timedelta(seconds=delay)
        db.session.commit()
    log.info("webhook delivery %s: %s (%s)", uid, answer.status, answer.error or "answered")


def schedule(uid: str, delay: float) -> None:
    """Run the delivery's job after ``delay`` seconds (with Redis; without, the scheduler's
    ``requeue`` sends it when due). A failure leaves it to ``requeue``."""
    if not current_app.config.get("REDIS_URL"):
        return
    try:
        if delay <= 0:
            jobs.submit(JOB, uid, queue_name=QUEUE)
        else:
            jobs.queue(QUEUE).enqueue_in(timedelta(seconds=delay), deliver, uid)
    except Exception:
        log.exception("webhook delivery %s: retry not scheduled (requeue will send it)", uid)


def requeue(limit: int = 200) -> int:
    """The periodic job: send pending deliveries that are due. With Redis, those due for
    ``REQUEUE_GRACE`` already (their job lost) are marked a minute ahead and submitted;
    without Redis, up to 10 are sent here, one after the other (a receiver that is down
    holds the scheduler thread for at most 10 timeouts a round)."""
    redis = bool(current_app.config.get("REDIS_URL"))
    now = utcnow()
    cutoff = now - REQUEUE_GRACE if redis else now
    rows = WebhookDelivery
    uids = list(
        db.session.scalars(
            select(rows.uid)
            .where(rows.status == "pending", rows.next_attempt_at <= cutoff)
            .order_by(rows.next_attempt_at)
            .limit(limit if redis else 10)
        )
    )
    db.session.commit()
    if not uids:
        return 0
    if not redis:
        for uid in uids:
            deliver(uid)
        return len(uids)
    with unit_of_work.writing():
        db.session.execute(
            update(rows)
            .where(rows.uid.in_(uids), rows.status == "pending")
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    for uid in uids:
        jobs.submit(JOB, uid, queue_name=QUEUE)
    return len(uids)
