"""Organizations: the companies customers work for, their domains, address, account
manager, custom fields and people; their API and the list and new-organization pages.
(The page of one organization is ``customers.organization``, beside the customer's.)"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the organizations' API and pages."""
    from helpdesk.organizations import api, views
    from helpdesk.web.api import register_api

    app.register_blueprint(views.bp)
    register_api(app, api.bp)
