"""Files on messages: the download of an attachment (``GET /attachments/ID``, under the
ticket's access rule) and what agents and chat visitors upload (limits, types, the
optional virus scan), stored by content hash (``tickets/attachments.py``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the download page."""
    from helpdesk.files import views

    app.register_blueprint(views.bp)
