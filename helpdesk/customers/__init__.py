"""The CRM: customers and their identities on every channel, organizations and their key
people, orders, notes, the history beside each conversation (imports: helpdesk.imports)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints and commands with the app."""
    from helpdesk.customers import api, views
    from helpdesk.web.api import register_api

    app.register_blueprint(views.bp)
    register_api(app, api.bp)
