"""Duplicate customers: the finder (pairs that are probably one person) and the stored
pairs it keeps up to date, dismissing a pair, the merge with a choice of winning values
and its preview, and the screen."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the duplicates API and page with the app, and refresh the stored pairs
    after the commits that may change them."""
    from helpdesk.duplicates import api, hooks, views
    from helpdesk.web.api import register_api

    hooks.install()
    app.register_blueprint(views.bp)
    register_api(app, api.bp)
