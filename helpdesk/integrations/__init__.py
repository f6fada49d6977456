"""Integrations with other systems' APIs (``mailchimp/``: a segment kept in sync with a
MailChimp audience)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register each integration."""
    from helpdesk.integrations import mailchimp

    mailchimp.init_app(app)
