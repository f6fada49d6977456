"""How the app meets HTTP: the REST API's shared parts (``api``), the agent UI's
(``pages``), the one URL-argument parser (``args``), the OpenAPI document and its HTML
reference (``openapi``, ``docs``), the health check, rate limits, and the server
(``serving``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints and commands with the app."""
    from helpdesk.web import docs, health

    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
