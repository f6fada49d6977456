"""The agent's realtime inbox: views (mine, my teams, unassigned, all), filters, search,
counts and read markers."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints and commands with the app."""
    from helpdesk.inbox import views

    app.register_blueprint(views.bp)
