"""Tickets and their messages: the one ingest every channel's inbound message goes through,
the services agents act with (reply, update, escalate), the audit trail and its realtime
announcements, the conversation page and the REST API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints and commands with the app."""
    from helpdesk.tickets import api, html, views
    from helpdesk.web.api import register_api

    app.add_template_global(html.framed, "framed_mail")
    app.jinja_env.globals["mail_frame_policy"] = html.FRAME_POLICY
    app.register_blueprint(views.bp)
    register_api(app, api.bp)
