"""The customer list page: search, filters, sortable columns, segments with live counts,
bulk actions (through the API, with the session). The filter lives in the URL."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import select

from helpdesk.agents import access
from helpdesk.agents.services import choices
from helpdesk.customers import search
from helpdesk.customers.models import CONSENT_PURPOSES, Organization
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.fields.services import definitions
from helpdesk.segments import services as segments
from helpdesk.web.args import int_arg
from helpdesk.web.pages import page_blueprint, page_number

bp = page_blueprint("customer_list", __name__)
PAGE = 50


def _organizations(agent) -> list:
    """Ids and names of the organizations the agent may pick (the first 500 by name)."""
    query = (
        select(Organization.id, Organization.name)
        .where(access.organization_filter(agent))
        .order_by(Organization.name)
        .limit(500)
    )
    return list(db.session.execute(query))


@bp.get("/customers")
def customers():
    """The customer list (bookmarkable: every filter is a URL argument)."""
    problem = None
    try:
        wanted = search.parse(request.args)
        number = page_number()
        found = search.page(wanted, current_user, number, PAGE)
    except Invalid as exc:
        problem = exc
        wanted, number = search.CustomerFilter(), 1
        found = search.Page([], False, 0, True)
    saved = segments.listed(current_user)
    return render_template(
        "customers.html",
        wanted=wanted,
        rows=found.customers,
        more=found.more,
        total=found.total,
        exact=found.exact,
        page=number,
        pages=max(1, -(-found.total // PAGE)),
        problem=problem,
        segments=saved,
        counts=segments.counts(saved, current_user),
        current_segment=int_arg("segment") if problem is None else None,
        cap=search.TOTAL_CAP,
        organizations=_organizations(current_user),
        agents=choices()[1],
        fields=list(definitions("customer").values()),
        purposes=CONSENT_PURPOSES,
        sorts=search.SORTS,
    ), (422 if problem else 200)
