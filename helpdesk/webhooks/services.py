"""Registering webhooks (admins) and reading or resending their deliveries; flush only."""

from __future__ import annotations

import secrets as random_secrets

from flask import current_app
from sqlalchemy import Select, select

from helpdesk import jobs
from helpdesk.agents.models import Agent
from helpdesk.audit.services import record
from helpdesk.db import iso, utcnow
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.web.args import get_row
from helpdesk.webhooks import transport
from helpdesk.webhooks.events import JOB, QUEUE
from helpdesk.webhooks.models import Webhook, WebhookDelivery


def create(agent: Agent, url: str, events: list[str], secret: str | None) -> tuple[Webhook, str]:
    """A new webhook and its secret (generated when not given; shown this once)."""
    try:
        transport.check(url, current_app.config["WEBHOOK_ALLOW_PRIVATE"])
    except transport.Refused as exc:
        raise Invalid(str(exc), fields={"url": str(exc)}) from None
    secret = secret or random_secrets.token_urlsafe(32)
    webhook = Webhook(
        url=url,
        events=sorted(set(events)),
        secrets={"secret": secret},
        created_by_id=agent.id,
        created_at=utcnow(),
    )
    db.session.add(webhook)
    db.session.flush()
    record(
        "webhook.create",
        object_type="webhook",
        object_id=webhook.id,
        after={"url": url, "events": webhook.events},
    )
    return webhook, secret


def get(webhook_id: int) -> Webhook:
    """One webhook, else NotFound."""
    webhook = get_row(Webhook, webhook_id)
    if webhook is None:
        raise NotFound("no such webhook")
    return webhook


def delete(webhook: Webhook) -> None:
    """Delete a webhook; its deliveries go with it (ON DELETE CASCADE), pending ones unsent."""
    record(
        "webhook.delete", object_type="webhook", object_id=webhook.id, before={"url": webhook.url}
    )
    db.session.delete(webhook)
    db.session.flush()


def listed() -> Select:
    """Every webhook, newest first."""
    return select(Webhook).order_by(Webhook.id.desc())


def deliveries(webhook: Webhook) -> Select:
    """A webhook's deliveries, newest first."""
    return (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id)
        .order_by(WebhookDelivery.id.desc())
    )


def delivery(webhook: Webhook, delivery_id: int) -> WebhookDelivery:
    """One delivery of ``webhook``, else NotFound."""
    row = get_row(WebhookDelivery, delivery_id)
    if row is None or row.webhook_id != webhook.id:
        raise NotFound("no such delivery")
    return row


def redeliver(row: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again ("send again"): the same body and ``X-Helpdesk-Delivery``, now,
    with the retries of a new delivery (``tries`` counts from here)."""
    if row.sending_since is not None and row.status == "pending":
        raise Conflict("this delivery is being sent right now")
    row.status, row.tries, row.next_attempt_at = "pending", 0, utcnow()
    row.delivered_at = None
    db.session.flush()
    if current_app.config.get("REDIS_URL"):
        jobs.enqueue(JOB, row.uid, queue_name=QUEUE)
    return row


def webhook_json(webhook: Webhook) -> dict:
    """A webhook as listed (never its secret)."""
    return {
        "id": webhook.id,
        "url": webhook.url,
        "events": list(webhook.events or []),
        "created_at": iso(webhook.created_at),
    }


def delivery_json(row: WebhookDelivery) -> dict:
    """A delivery in the log: its state and the last answer (a bounded snippet)."""
    return {
        "id": row.id,
        "delivery": row.uid,
        "event": row.event,
        "status": row.status,
        "tries": row.tries,
        "last_status_code": row.last_status_code,
        "last_response": row.last_response,
        "last_error": row.last_error,
        "response_time_ms": row.last_duration_ms,
        "created_at": iso(row.created_at),
        "last_attempt_at": iso(row.last_attempt_at),
        "next_attempt_at": iso(row.next_attempt_at) if row.status == "pending" else None,
        "delivered_at": iso(row.delivered_at),
    }
