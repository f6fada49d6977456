"""The audit log page for admins (``/settings/audit``): the API's filters, who, when, what,
and before -> after of each event. Others get a 403 page."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template
from flask_login import current_user

from helpdesk.agents import services as agents
from helpdesk.audit import queries
from helpdesk.extensions import db
from helpdesk.web.pages import page_blueprint, page_number

bp = page_blueprint("audit", __name__)
PAGE = 50


@bp.get("/settings/audit")
def audit_log():
    """One page of the audit log, newest first, filtered as the query string says."""
    if not current_user.is_admin:
        return render_template("error.html", message="The audit log is for admins."), 403
    filters = queries.filters_from_request()
    page = page_number()
    rows = list(
        db.session.execute(queries.search(filters).limit(PAGE + 1).offset((page - 1) * PAGE))
        .scalars()
        .all()
    )
    events = rows[:PAGE]
    _, agent_choices = agents.choices()
    return render_template(
        "audit.html",
        events=[(e, queries.diff_lines(e)) for e in events],
        names=queries.agent_names(events),
        filters=filters,
        args=filters.args(),
        agents=agent_choices,
        actions=queries.KNOWN_ACTIONS,
        page=page,
        has_next=len(rows) > PAGE,
        day=timedelta(days=1),
    )
