"""The CRM pages: a customer's card and history, the panel beside a conversation, an
organization and its people. The queries live in ``customers.history`` and
``customers.services``."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from helpdesk.customers import history
from helpdesk.customers.models import Customer, Organization
from helpdesk.organizations import services as organizations
from helpdesk.web.pages import get_or_404, page_blueprint, page_number

bp = page_blueprint("customers", __name__)
PAGE = 50
PANEL = 20  # history entries per page of the customer panel


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int):
    """A customer's card and whole history."""
    item = get_or_404(Customer, customer_id)
    page = page_number()
    entries, more = history.timeline(item, page, PAGE, viewer=current_user)
    return render_template(
        "customer.html",
        customer=item,
        card=history.card(item, viewer=current_user),
        entries=entries,
        key_people=history.key_people(item),
        page=page,
        has_next=more,
    )


@bp.get("/customers/<int:customer_id>/panel")
def panel(customer_id: int):
    """The customer panel beside a conversation (HTML fragment), or one more page of it."""
    item = get_or_404(Customer, customer_id)
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
        key_people=history.key_people(item),
    )


@bp.get("/organizations/<int:org_id>")
def organization(org_id: int):
    """An organization with its key people first, then everyone else (paginated)."""
    org = get_or_404(Organization, org_id)
    page = page_number()
    people, has_next, open_count = organizations.people(org, current_user, page, PAGE)
    return render_template(
        "organization.html",
        org=org,
        people=people,
        page=page,
        has_next=has_next,
        open_count=open_count,
    )
