"""The import screen (``/customers/import``): upload a file, map its columns, dry-run it,
import it and follow the progress, download the report. Leads and admins; the steps go
through ``/api/v1/imports`` (``static/imports.js``)."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user

from helpdesk.errors import Forbidden
from helpdesk.extensions import db
from helpdesk.imports import services
from helpdesk.web.pages import page_blueprint

bp = page_blueprint("imports", __name__)
RECENT = 10


@bp.get("/customers/import")
def import_page():
    """The import screen, with the agent's latest imports."""
    try:
        services.may_import(current_user)
    except Forbidden:
        return render_template(
            "error.html", message=_("Imports are for team leads and admins.")
        ), 403
    recent = db.session.scalars(services.recent(current_user).limit(RECENT)).all()
    return render_template("import.html", recent=recent)
