"""Agents and teams: who works the desk, how they log in (sessions, API tokens), and the
access rule every list, search, export and event uses (``access``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints and commands with the app."""
    from helpdesk.agents import api, auth, cli, profile, tokens_api, views
    from helpdesk.extensions import login_manager
    from helpdesk.web.api import register_api

    app.session_interface = auth.SessionInterface()
    login_manager.user_loader(auth.load_agent)
    login_manager.login_view = "agents.login"
    app.register_blueprint(views.bp)
    app.register_blueprint(profile.bp)
    register_api(app, api.bp)
    register_api(app, tokens_api.bp)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
