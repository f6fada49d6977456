"""The satisfaction survey: asked when a ticket is solved, answered on a public page (by
email) or by replying 1-5 (SMS, chat); the answers feed the ticket, the customer's card
and the reports."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the public survey page; let ingest hand survey answers to us."""
    from helpdesk.surveys import services, views
    from helpdesk.tickets import ingest

    ingest.register_claim(services.claim)
    services.install()
    app.register_blueprint(views.bp)
