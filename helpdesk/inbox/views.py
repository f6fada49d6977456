"""The inbox pages: ``/inbox`` (views, filters, search, counts) and the rows its live
updates ask for. The queries live in ``inbox.services``."""

from __future__ import annotations

from flask import (
    abort,
    get_template_attribute,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from helpdesk.agents import services as agents
from helpdesk.inbox import services as inboxes
from helpdesk.tickets.models import CHANNELS, PRIORITIES
from helpdesk.web.args import MAX_ID
from helpdesk.web.pages import page_blueprint, page_number

bp = page_blueprint("inbox", __name__)
PAGE = 50
LIVE_ROWS = 50  # tickets one live update may ask about


@bp.get("/")
def home():
    """The inbox is the start page."""
    return redirect(url_for(".inbox"))


@bp.get("/inbox")
def inbox():
    """The tickets the agent may see in one view, filtered, most recently active first."""
    wanted = inboxes.parse_filter(request.args, current_user)
    page = page_number()
    rows, has_next = inboxes.page(current_user, wanted, page, PAGE)
    return render_template(
        "inbox.html",
        rows=rows,
        wanted=wanted,
        page=page,
        has_next=has_next,
        colleagues=agents.colleagues(current_user),
        counts=inboxes.counts(current_user, wanted),
        views=inboxes.VIEWS,
        channels=CHANNELS,
        priorities=PRIORITIES,
        statuses=inboxes.STATUS_CHOICES,
    )


@bp.get("/inbox/rows")
def rows():
    """For live updates: the rows of the given tickets on this screen (null: not on it)."""
    wanted = inboxes.parse_filter(request.args, current_user)
    try:
        ids = [int(i) for i in request.args.get("ids", "").split(",") if i][:LIVE_ROWS]
    except ValueError:
        abort(400)
    found = inboxes.rows_for(current_user, wanted, [i for i in ids if 0 < i <= MAX_ID])
    render_row = get_template_attribute("_macros.html", "inbox_row")
    return jsonify(
        {
            "rows": {
                i: (str(render_row(row)).strip() if row else None) for i, row in found.items()
            },
            "counts": inboxes.counts(current_user, wanted),
        }
    )
