"""The settings screens under ``/settings/``: agents, teams, SLA policies, macros, custom
fields and API tokens, and the set-password page of invitations and resets. Each screen
validates with the API's models and writes through the domain's services."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the settings pages and the navigation every settings page shows."""
    from flask_login import current_user

    from helpdesk.settings import agents, fields, macros, nav, password, sla, teams, tokens, views

    for module in (views, agents, teams, sla, macros, fields, tokens, password):
        app.register_blueprint(module.bp)

    @app.context_processor
    def _settings_sections() -> dict:
        """The settings sections the signed-in agent may open (the settings pages' menu)."""
        if not current_user or not current_user.is_authenticated:
            return {"settings_sections": []}
        return {"settings_sections": nav.sections(current_user)}
