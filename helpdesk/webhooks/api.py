"""REST API v1 for outbound webhooks (admins; an ``api`` token or session, or a
``webhook-admin`` token): ``GET|POST /webhooks``, ``DELETE /webhooks/ID``,
``GET /webhooks/ID/deliveries`` and ``POST /webhooks/ID/deliveries/DID/redeliver``."""

from __future__ import annotations

from typing import Annotated, Literal

from flask import g, jsonify
from pydantic import Field, StringConstraints

from helpdesk import unit_of_work
from helpdesk.customers.schemas import Strict
from helpdesk.errors import Forbidden
from helpdesk.web.api import api_blueprint, paginate, parse_body
from helpdesk.web.openapi import Shape, documented
from helpdesk.webhooks import services
from helpdesk.webhooks.models import EVENTS

bp = api_blueprint("webhooks_api", __name__, lock_writes=True, scope=("api", "webhook-admin"))


@bp.before_request
def _admins_only():
    if not g.agent.is_admin:
        raise Forbidden("only admins manage webhooks")


class WebhookIn(Strict):
    """POST /webhooks: where to send which events; ``secret`` absent: one is generated."""

    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    events: Annotated[list[Literal[EVENTS]], Field(min_length=1)]  # type: ignore[valid-type]
    secret: Annotated[str, StringConstraints(min_length=16, max_length=200)] | None = None


class WebhookOut(Shape):
    """A webhook (never its secret, except in the answer to its creation)."""

    id: int
    url: str
    events: list[str]
    created_at: str | None


class NewWebhookOut(WebhookOut):
    """A new webhook: ``secret`` is shown this once."""

    secret: str


class DeliveryOut(Shape):
    """One delivery in the log: ``delivery`` is its ``X-Helpdesk-Delivery``."""

    id: int
    delivery: str
    event: str
    status: str
    tries: int
    last_status_code: int | None
    last_response: str | None
    last_error: str | None
    response_time_ms: int | None
    created_at: str | None
    last_attempt_at: str | None
    next_attempt_at: str | None
    delivered_at: str | None


@bp.get("/webhooks")
@documented(WebhookOut, paged=True)
def list_webhooks():
    """Every webhook, newest first."""
    return jsonify(paginate(services.listed(), services.webhook_json))


@bp.post("/webhooks")
@documented(NewWebhookOut, status=201, body=WebhookIn)
def create_webhook():
    """Register a webhook; its secret is in this answer only."""
    body = parse_body(WebhookIn)
    webhook, secret = services.create(g.agent, body.url, body.events, body.secret)
    unit_of_work.commit()
    return jsonify({**services.webhook_json(webhook), "secret": secret}), 201


@bp.delete("/webhooks/<int:webhook_id>")
@documented(None, status=204)
def delete_webhook(webhook_id: int):
    """Delete a webhook and its delivery log; nothing more is sent to it."""
    services.delete(services.get(webhook_id))
    unit_of_work.commit()
    return "", 204


@bp.get("/webhooks/<int:webhook_id>/deliveries")
@documented(DeliveryOut, paged=True)
def list_deliveries(webhook_id: int):
    """A webhook's deliveries, newest first: status, tries, the last answer."""
    webhook = services.get(webhook_id)
    return jsonify(
        paginate(services.deliveries(webhook), services.delivery_json, webhook_id=webhook_id)
    )


@bp.post("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver")
@documented(DeliveryOut, status=202)
def redeliver(webhook_id: int, delivery_id: int):
    """Send one delivery again, under the same delivery id."""
    row = services.redeliver(services.delivery(services.get(webhook_id), delivery_id))
    unit_of_work.commit()
    return jsonify(services.delivery_json(row)), 202
