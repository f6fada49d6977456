"""SLAs: policies, business hours, the clocks kept on each ticket, the scan that warns and
escalates, the notifications it sends, and the teams API that sets hours and escalation."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints and commands with the app."""
    from helpdesk.sla import api, cli, clocks
    from helpdesk.web.api import register_api

    app.add_template_global(clocks.state, "sla_state")
    register_api(app, api.bp)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
