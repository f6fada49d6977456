"""Notifications for agents: the bell's rows (assigned, mentioned, the customer replied, a
low rating, an SLA warning, an escalation), stored with the change that causes them,
live over Socket.IO, by email when an agent chose so; the API and the settings page."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Hang the notifications on the session and the SLA; mount the API and the page."""
    from helpdesk.notifications import api, hooks, services, views
    from helpdesk.web.api import register_api

    hooks.install()
    app.add_template_global(services.unread_count, "notifications_unread")
    register_api(app, api.bp)
    app.register_blueprint(views.bp)
