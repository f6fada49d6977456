"""The team lead's board: presence and workload per agent, the unassigned queue, the
tickets nearest their SLA, bulk reassignment."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints and commands with the app."""
    from helpdesk.board import views

    app.register_blueprint(views.bp)
