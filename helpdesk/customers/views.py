"""The CRM pages: a customer's card and history, the panel beside a conversation, an
organization and its people. The queries live in ``customers.history`` and
``customers.services``."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from helpdesk.agents import access
from helpdesk.customers import history, services
from helpdesk.customers.models import Customer, Organization
from helpdesk.web.args import get_row
from helpdesk.web.pages import page_blueprint, page_number

bp = page_blueprint("customers", __name__)


def _customer(customer_id: int) -> Customer:
    """The customer if the agent may see them (agents.access), else a 404 page."""
    item = get_row(Customer, customer_id)
    if not access.can_see_customer(current_user, item):
        abort(404)
    assert item is not None  # can_see_customer says no to None
    return item


PAGE = 50
PANEL = 20  # history entries per page of the customer panel


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int):
    """A customer's card and whole history."""
    item = _customer(customer_id)
    page = page_number()
    entries, more = history.timeline(item, page, PAGE, viewer=current_user)
    return render_template(
        "customer.html",
        customer=item,
        card=history.card(item, viewer=current_user),
        entries=entries,
        key_people=history.key_people(item, viewer=current_user),
        page=page,
        has_next=more,
    )


@bp.get("/customers/<int:customer_id>/panel")
def panel(customer_id: int):
    """The customer panel beside a conversation (HTML fragment), or one more page of it."""
    item = _customer(customer_id)
    page = page_number()
    if page > 1:
        entries, more = history.timeline(item, page, PANEL, viewer=current_user)
        return render_template(
            "_history.html", customer=item, entries=entries, page=page, more=more
        )
    card, entries, more = history.panel(item, PANEL, viewer=current_user)
    return render_template(
        "_panel.html",
        card=card,
        customer=item,
        entries=entries,
        page=page,
        more=more,
        key_people=history.key_people(item, viewer=current_user),
    )


@bp.get("/organizations/<int:org_id>")
def organization(org_id: int):
    """An organization with its key people first, then everyone else (paginated)."""
    org = get_row(Organization, org_id)
    if not access.can_see_organization(current_user, org):
        abort(404)
    assert org is not None
    page = page_number()
    people, has_next, open_count = services.organization_people(org, current_user, page, PAGE)
    return render_template(
        "organization.html",
        org=org,
        people=people,
        page=page,
        has_next=has_next,
        open_count=open_count,
    )
