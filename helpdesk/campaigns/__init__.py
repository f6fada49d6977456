"""Campaigns: one message by email or SMS to a segment's consenting customers, sent by
the workers on the ``campaigns`` queue, at most once each, throttled, with live
progress, one-click unsubscribe, and replies and bounces traced back to it."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the pages, the unsubscribe page, the API and ingest's observer."""
    from helpdesk.agents.access import can_use_campaigns
    from helpdesk.campaigns import api, replies, views
    from helpdesk.tickets import ingest
    from helpdesk.web.api import register_api

    app.register_blueprint(views.bp)
    app.register_blueprint(views.public)
    register_api(app, api.bp)
    ingest.register_observer(replies.observe)
    app.add_template_global(can_use_campaigns, "can_use_campaigns")
