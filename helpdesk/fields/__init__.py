"""Custom fields: admins define them (key, label, type), customers, organizations and
tickets carry their values in ``custom_fields``."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the definitions' API (GET|POST /api/v1/custom-fields, PATCH|DELETE /ID)."""
    from helpdesk.fields import api
    from helpdesk.web.api import register_api

    register_api(app, api.bp)
