"""The CRM pages: a customer's card and history, the panel beside a conversation, an
organization and its people. The queries live in ``customers.history`` and
``customers.services``."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user
from sqlalchemy import select

from helpdesk.agents import access
from helpdesk.agents.models import Agent
from helpdesk.customers import history
from helpdesk.customers.models import Customer
from helpdesk.customers.schemas import customer_json
from helpdesk.extensions import db
from helpdesk.fields.services import definitions
from helpdesk.organizations import services as organizations
from helpdesk.organizations.schemas import organization_json
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


def editing(applies_to: str) -> dict:
    """What the forms and in-place editors need: the custom fields defined, the agents who
    can be account managers."""
    agents = db.session.scalars(select(Agent).where(Agent.active).order_by(Agent.name)).all()
    return {
        "field_defs": list(definitions(applies_to).values()),
        "agent_options": [["", "none"]] + [[a.id, a.name] for a in agents],
        "agent_names": {a.id: a.name for a in agents},
    }


@bp.get("/customers/new")
def new_customer():
    """The form of a new customer; it is created through the API."""
    return render_template("customer_new.html", **editing("customer"))


@bp.get("/customers/<int:customer_id>")
def customer(customer_id: int):
    """A customer's card and whole history."""
    item = _customer(customer_id)
    page = page_number()
    entries, more = history.timeline(item, page, PAGE, viewer=current_user)
    tickets, orders = history.record_lists(item, viewer=current_user)
    manager_id = item.account_manager_id or (
        item.organization.account_manager_id if item.organization else None
    )
    return render_template(
        "customer.html",
        customer=item,
        facts=history.facts(item, viewer=current_user),
        account_manager=db.session.get(Agent, manager_id) if manager_id else None,
        tickets=tickets,
        orders=orders,
        details=customer_json(item),
        **editing("customer"),
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
    """An organization, every field editable in place; its key people, then everyone
    (paginated) with their open tickets."""
    org = organizations.visible_one(current_user, org_id)
    page = page_number()
    people, has_next, open_count = organizations.people(org, current_user, page, PAGE)
    key_people = db.session.scalars(
        select(Customer)
        .where(Customer.organization_id == org.id, Customer.key_person.is_(True))
        .order_by(Customer.name)
        .limit(20)
    ).unique()
    return render_template(
        "organization.html",
        org=org,
        details=organization_json(org),
        key_people=list(key_people),
        people=people,
        open_tickets=organizations.open_tickets([p.id for p in people], current_user),
        page=page,
        has_next=has_next,
        open_count=open_count,
        **editing("organization"),
    )
