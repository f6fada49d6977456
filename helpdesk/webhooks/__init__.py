"""Outbound webhooks: signed JSON POSTs to other systems for the events in
``models.EVENTS``, written as deliveries in the transaction of the change and sent by the
``webhooks`` RQ queue after its commit (docs/webhooks.md for receivers)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the API and the listener that turns announced events into deliveries."""
    from helpdesk import realtime
    from helpdesk.web.api import register_api
    from helpdesk.webhooks import api, events

    register_api(app, api.bp)
    realtime.on_announce(events.on_event)
