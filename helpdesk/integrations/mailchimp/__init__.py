"""MailChimp: a segment kept in sync with an audience (its Marketing API's batch member
upsert, the ``email_marketing`` consent as subscription status), on demand and hourly,
and MailChimp's unsubscribe webhook revoking the consent (source ``mailchimp``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the API and MailChimp's webhook (no CSRF: a secret in its URL proves it)."""
    from helpdesk.extensions import csrf
    from helpdesk.integrations.mailchimp import api, webhook
    from helpdesk.web.api import register_api

    register_api(app, api.bp)
    csrf.exempt(webhook.bp)
    app.register_blueprint(webhook.bp)
