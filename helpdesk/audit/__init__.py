"""The audit log: who changed what in the CRM and settings, when, before and after; the
readers (API and page) and the retention of raw sources."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the audit log's API, page and commands with the app."""
    from helpdesk.audit import api, cli, views
    from helpdesk.web.api import register_api

    app.register_blueprint(views.bp)
    register_api(app, api.bp)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
