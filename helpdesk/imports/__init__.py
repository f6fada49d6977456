"""Moving in: customers, organizations and orders from CSV files (ours, or the exports of
HubSpot, Pipedrive and Insightly), from the shell, the API and the import screen."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the import screen, its API and the `helpdesk import` commands."""
    from helpdesk.imports import api, cli, views
    from helpdesk.web.api import register_api

    app.register_blueprint(views.bp)
    register_api(app, api.bp)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
