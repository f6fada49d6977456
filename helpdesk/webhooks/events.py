"""Events to deliveries: the ``realtime.on_announce`` listener.

Every event announced (``realtime.emit_after_commit`` and ``realtime.announce``) passes
here inside the transaction of the change it reports. For each webhook subscribed to it,
one ``webhook_deliveries`` row is added to that transaction, and its job is enqueued for
after the commit: a rolled-back change leaves no row and sends nothing, a committed one
cannot lose its deliveries (the periodic ``delivery.requeue`` sends any whose job was
lost). Without Redis nothing is sent from the request: the scheduler's requeue sends due
deliveries (``helpdesk serve`` runs it every few seconds).

What ``data`` carries follows the agents' access rule in spirit: webhooks are an admin's,
so everything an admin sees, except internal notes: ``message.created`` is not sent for a
note (receivers are other systems, notes are for colleagues).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import current_app
from sqlalchemy import select

from helpdesk import jobs
from helpdesk.db import iso, utcnow
from helpdesk.extensions import db
from helpdesk.realtime import Payload
from helpdesk.webhooks.models import EVENTS, Webhook, WebhookDelivery

JOB = "helpdesk.webhooks.delivery:deliver"
QUEUE = "webhooks"
_CACHE = "helpdesk.webhooks.subscribed"  # session.info: (transaction, [(id, events)])


def _subscribed() -> list[tuple[int, list[str]]]:
    """The webhooks and their events, read once per transaction."""
    session = db.session()
    transaction = session.get_transaction()
    cached = session.info.get(_CACHE)
    if cached is not None and cached[0] is transaction and transaction is not None:
        hooks: list[tuple[int, list[str]]] = cached[1]
        return hooks
    with session.no_autoflush:
        rows = session.execute(select(Webhook.id, Webhook.events).order_by(Webhook.id)).all()
    hooks = [(row.id, list(row.events or [])) for row in rows]
    session.info[_CACHE] = (transaction, hooks)
    return hooks


def data_for(event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The ``data`` of a delivery from an event's payload; None: not delivered."""
    if event == "message.created":
        if payload["message"].get("internal"):
            return None  # internal notes stay inside (see the module)
        return {"message": payload["message"], "ticket": payload["ticket"]}
    if event == "call.incoming":
        return {
            "call": payload["call"],
            "caller": payload.get("caller"),
            "line": payload.get("line"),
        }
    return dict(payload)


def body_of(event: str, event_id: str, data: dict[str, Any]) -> str:
    """The JSON body of every delivery of one event (the same bytes on every try)."""
    envelope = {"event": event, "id": event_id, "at": iso(utcnow()), "data": data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, default=str)


def on_event(event: str, payload: Payload) -> None:
    """Add a delivery for each webhook subscribed to ``event`` (see the module)."""
    if event not in EVENTS:
        return
    wanted = [hook_id for hook_id, events in _subscribed() if event in events]
    if not wanted:
        return
    data = data_for(event, payload() if callable(payload) else payload)
    if data is None:
        return
    body = body_of(event, str(uuid.uuid4()), data)
    now = utcnow()
    for hook_id in wanted:
        uid = str(uuid.uuid4())
        db.session.add(
            WebhookDelivery(
                uid=uid,
                webhook_id=hook_id,
                event=event,
                body=body,
                tries=0,
                next_attempt_at=now,
                status="pending",
            )
        )
        if current_app.config.get("REDIS_URL"):
            jobs.enqueue(JOB, uid, queue_name=QUEUE)
