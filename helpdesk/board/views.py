"""The lead's team board (``/board``): agent UI pages (login required, the same
Content-Security-Policy). Leads see their own teams, admins every team;
agents get a 403 page. Live updates re-fetch ``/board/rows``; reassignments go
through ``POST /api/v1/tickets/bulk``."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user

from helpdesk.board import services as boards
from helpdesk.errors import Forbidden, NotFound
from helpdesk.web.args import int_arg
from helpdesk.web.pages import page_blueprint, page_number

bp = page_blueprint("board", __name__)
PAGE = 50


def _board():
    """What the request asks for: (the teams to choose from, the board or None when there
    is no team, None), or (None, None, an error page): 403 for agents and for a team that
    is not the lead's, 404 for no such team."""
    if not boards.may_use(current_user):
        return None, None, _refused(403, _("The team board is for team leads and admins."))
    teams = boards.teams_for(current_user)
    try:
        team = boards.pick_team(current_user, int_arg("team"), teams)
    except Forbidden:
        return None, None, _refused(403, _("That is not one of your teams."))
    except NotFound:
        return None, None, _refused(404, _("No such team."))
    shown = None
    if team is not None:
        shown = boards.board(current_user, team, page_number("page"), page_number("sla_page"), PAGE)
    return teams, shown, None


def _refused(status: int, message: str):
    return render_template("error.html", message=message), status


@bp.get("/board")
def board():
    """The team board: workloads and presence, the unassigned queue, SLA risks."""
    teams, shown, refused = _board()
    if refused is not None:
        return refused
    targets = boards.other_teams(shown.team) if shown is not None else []
    return render_template(
        "board.html",
        teams=teams,
        board=shown,
        other_teams=targets,
        page=page_number("page"),
        sla_page=page_number("sla_page"),
    )


@bp.get("/board/rows")
def rows():
    """For live updates: the board's body (HTML fragment), as ``/board`` renders it."""
    teams, shown, refused = _board()
    if refused is not None:
        return refused
    return render_template(
        "_board.html",
        teams=teams,
        board=shown,
        page=page_number("page"),
        sla_page=page_number("sla_page"),
    )
