"""The organizations' pages: the list (search, sort, 50 a page with the total) and the
form of a new one. An organization's own page is ``customers.organization``."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import select

from helpdesk.agents.models import Agent
from helpdesk.extensions import db
from helpdesk.fields.services import definitions
from helpdesk.organizations import services
from helpdesk.web.args import page_number
from helpdesk.web.pages import page_blueprint

bp = page_blueprint("organizations", __name__)
PAGE = 50


def active_agents() -> list[Agent]:
    """The agents who can be an account manager, by name."""
    return list(db.session.scalars(select(Agent).where(Agent.active).order_by(Agent.name)))


@bp.get("/organizations")
def organizations():
    """The organizations the agent may see: ?q= part of the name, ?sort=, paginated."""
    q = (request.args.get("q") or "").strip()[:200] or None
    sort = request.args.get("sort", "name")
    sort = sort if sort in services.SORTS else "name"
    page = page_number()
    query = services.listing(current_user, q, sort)
    rows = list(db.session.scalars(query.limit(PAGE + 1).offset((page - 1) * PAGE)).unique())
    return render_template(
        "organizations.html",
        rows=rows[:PAGE],
        total=services.count(query),
        has_next=len(rows) > PAGE,
        page=page,
        q=q or "",
        sort=sort,
    )


@bp.get("/organizations/new")
def new_organization():
    """The form of a new organization; it is created through the API."""
    return render_template(
        "organization_new.html",
        agents=active_agents(),
        fields=list(definitions("organization").values()),
    )
