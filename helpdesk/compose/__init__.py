"""Conversations an agent starts: a new email or SMS to a customer (``/tickets/new``, the
customer's card), a message forwarded to another address, and the agent's signature
(``/profile/signature``). Everything goes out through ``tickets.replies`` and the
delivery job, as a reply does."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the compose pages and API."""
    from helpdesk.compose import api, views
    from helpdesk.web.api import register_api

    app.add_template_global(views.senders_by_channel, "compose_senders")
    app.register_blueprint(views.bp)
    register_api(app, api.bp)
