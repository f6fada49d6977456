"""Segments: saved customer selections, always evaluated now."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the segments API."""
    from helpdesk.segments import api
    from helpdesk.web.api import register_api

    register_api(app, api.bp)
