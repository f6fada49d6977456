"""The CRM: customers and their identities on every channel, organizations and their key
people, orders, notes, the history beside each conversation (imports: helpdesk.imports)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints and commands with the app."""
    from helpdesk.customers import api, views
    from helpdesk.customers.finder import api as finder_api
    from helpdesk.customers.finder import views as finder_views
    from helpdesk.web.api import register_api

    app.register_blueprint(views.bp)
    app.register_blueprint(finder_views.bp)
    register_api(app, finder_api.bp)  # before api.bp: /customers/export is not an id
    register_api(app, api.bp)
