"""Reports and customer satisfaction: the reporting events (written with each change
they count), the overview and its exports, the /reports page."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Record reporting events on every flush; mount the API and the page."""
    from helpdesk.reports import api, recording, views
    from helpdesk.web.api import register_api

    recording.install()
    register_api(app, api.bp)
    app.register_blueprint(views.bp)
