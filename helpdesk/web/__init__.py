"""How the app meets HTTP: the REST API's shared parts (``api``), the agent UI's
(``pages``), the health check, rate limits, and the server (``serving``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints and commands with the app."""
    from helpdesk.web import health

    app.register_blueprint(health.bp)
