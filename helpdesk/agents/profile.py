"""The agent's own profile page: the language and time zone the desk speaks to them in
(``/profile``; notification choices live beside it)."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from helpdesk import i18n, unit_of_work
from helpdesk.agents import services
from helpdesk.db import utcnow
from helpdesk.web.pages import page_blueprint

bp = page_blueprint("profile", __name__)


def _page(error: str | None = None, status: int = 200, wanted: dict | None = None):
    """The form, with what the agent chose (or just tried to choose)."""
    agent = current_user
    shown = wanted or {"language": agent.language or "", "timezone": agent.timezone or ""}
    return (
        render_template(
            "profile.html",
            shown=shown,
            timezones=i18n.timezones(),
            error=error,
            now=utcnow(),
            saved=request.args.get("saved") == "1" and error is None,
        ),
        status,
    )


@bp.get("/profile")
def profile():
    """The agent's language (German, English or the browser's) and time zone."""
    return _page()


@bp.post("/profile")
def save_profile():
    """Save the language and time zone; a bad value shows the form again (422)."""
    wanted = {
        "language": request.form.get("language", "")[:10],
        "timezone": request.form.get("timezone", "")[:100],
    }
    try:
        services.set_preferences(
            current_user._get_current_object(), wanted["language"], wanted["timezone"]
        )
    except services.AgentError:  # refused before anything changed
        return _page(_("Choose a language and a time zone from the lists."), 422, wanted)
    unit_of_work.commit()
    return redirect(url_for("profile.profile", saved="1"))
