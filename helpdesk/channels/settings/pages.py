"""What the channel settings screens share: the blueprint (a logged-in admin, else 404),
the team menu, and reading a form."""

from __future__ import annotations

from datetime import datetime

from flask import abort, request
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user

from helpdesk.agents import services as agents
from helpdesk.agents.models import Team
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.web.pages import page_blueprint

bp = page_blueprint("channel_settings", __name__)


@bp.before_request
def admins_only() -> None:
    """The channels' settings are for admins; to anyone else they do not exist."""
    if not current_user.is_admin:
        abort(404)


def text(name: str, limit: int = 2000) -> str:
    """A form field's text, stripped; over ``limit`` characters is refused."""
    value = (request.form.get(name) or "").strip()
    if len(value) > limit or "\x00" in value:
        raise Invalid(_("This field is too long."), fields={name: "too long"})
    return value


def team_choices() -> list:
    """(id, name) of every team, for the team menu."""
    return agents.choices()[0]


def chosen_team() -> Team | None:
    """The team picked in the form's ``team`` menu (blank: no team, every agent)."""
    value = text("team", 20)
    if not value:
        return None
    team = db.session.get(Team, int(value)) if value.isdigit() and len(value) < 10 else None
    if team is None:
        raise Invalid(_("Choose a team from the list."), fields={"team": "unknown"})
    return team


def when(value: str | None) -> str | None:
    """A stored ISO time in the reader's language and time zone."""
    if not value:
        return None
    try:
        return format_datetime(datetime.fromisoformat(value), "short")
    except ValueError:
        return value
