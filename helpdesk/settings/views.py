"""The settings index (``/settings/``): the sections the signed-in agent may open."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from helpdesk.settings import nav
from helpdesk.web.pages import page_blueprint

bp = page_blueprint("settings", __name__)


@bp.get("/settings/")
def index():
    """Every settings section the agent may open, with a line on each."""
    return render_template("settings/index.html", sections=nav.sections(current_user))
