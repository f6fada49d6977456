"""REST API v1 for the CRM: customers, organizations, lookup (the card) and orders."""

from __future__ import annotations

from flask import g, jsonify, request
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.agents.auth import require_role
from helpdesk.audit import services as audit
from helpdesk.customers import export, history, orders, services
from helpdesk.customers.models import Customer, Order, Organization
from helpdesk.customers.schemas import (
    CustomerIn,
    CustomerOut,
    ExportOut,
    MergeIn,
    NoteIn,
    NoteOut,
    OrderIn,
    OrderOut,
    TimelineOut,
    customer_json,
    note_json,
    order_json,
)
from helpdesk.duplicates import merging
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.tickets.schemas import CardOut
from helpdesk.web.api import (
    api_blueprint,
    paginate,
    parse_body,
)
from helpdesk.web.args import get_row, int_arg
from helpdesk.web.openapi import PAGE, Param, documented, text

bp = api_blueprint("customers_api", __name__, lock_writes=True)


def _customer(customer_id: int) -> Customer:
    """The customer with this id if the caller may see them (agents.access), else 404."""
    return access.visible_customer(g.agent, get_row(Customer, customer_id))


def _check_organization(data: dict) -> None:
    """A customer's organization must be one the caller may see (422 as for an unknown id)."""
    org_id = data.get("organization_id")
    if org_id is not None and not access.can_see_organization(
        g.agent, db.session.get(Organization, org_id)
    ):
        raise Invalid("no such organization", fields={"organization": "unknown id"})


def _query_arg(name: str, max_length: int = 320) -> str | None:
    """A text query argument, bounded."""
    value = (request.args.get(name) or "").strip()
    if len(value) > max_length:
        raise Invalid(f"{name} is too long", fields={name: "too long"})
    return value or None


@bp.post("/customers")
@documented(CustomerOut, status=201, body=CustomerIn)
def create_customer():
    """Create a customer."""
    body = parse_body(CustomerIn)
    data = body.to_service()
    _check_organization(data)
    customer = services.create_customer(data)
    if not access.can_see_customer(g.agent, customer):
        customer.account_manager_id = g.agent.id  # an account manager's new customer is theirs
    unit_of_work.commit()
    return jsonify(customer_json(customer)), 201


@bp.get("/customers/<int:customer_id>")
@documented(CustomerOut)
def get_customer(customer_id: int):
    """One customer."""
    return jsonify(customer_json(_customer(customer_id)))


@bp.patch("/customers/<int:customer_id>")
@documented(CustomerOut, body=CustomerIn)
def update_customer(customer_id: int):
    """Change a customer; only the fields sent are changed."""
    customer = _customer(customer_id)
    data = parse_body(CustomerIn).to_service(only_set=True)
    _check_organization(data)
    services.apply_fields(customer, data)
    unit_of_work.commit()
    return jsonify(customer_json(customer))


@bp.delete("/customers/<int:customer_id>")
@require_role("admin")
@documented(None, status=204)
def erase_customer(customer_id: int):
    """Erase everything held about a person (admins only)."""
    services.erase(_customer(customer_id))
    unit_of_work.commit()
    return "", 204


@bp.get("/customers/<int:customer_id>/timeline")
@documented(TimelineOut, query=PAGE)
def customer_timeline(customer_id: int):
    """Every interaction on every channel, newest first, paginated."""
    customer = _customer(customer_id)
    page = int_arg("page", 1)
    per_page = int_arg("per_page", 50, maximum=200)
    items, more = history.timeline(customer, page, per_page, viewer=g.agent)
    next_url = None
    if more:
        from flask import url_for

        next_url = url_for(
            ".customer_timeline",
            customer_id=customer_id,
            page=page + 1,
            per_page=per_page,
            _external=True,
        )
    return jsonify({"items": items, "next": next_url})


@bp.post("/customers/<int:customer_id>/merge")
@documented(CustomerOut, body=MergeIn)
def merge_customer(customer_id: int):
    """Fold another customer ({"from": ID, "keep": {FIELD: "into"|"from"}}) into this one."""
    into = _customer(customer_id)
    body = parse_body(MergeIn)
    other = db.session.get(Customer, body.from_)
    if other is None or not access.can_see_customer(g.agent, other):
        raise Invalid("no such customer to merge from", fields={"from": "unknown id"})
    merging.merge(into, other, body.keep.to_service() if body.keep else None)
    unit_of_work.commit()
    return jsonify(customer_json(into))


@bp.get("/customers/<int:customer_id>/export")
@require_role("lead")
@documented(ExportOut)
def export_customer(customer_id: int):
    """All data held about a person: everything for admins; for leads what they may
    open (agents.access) and the CRM data. Audited."""
    customer = _customer(customer_id)
    data = export.export(customer, g.agent)
    audit.record(
        "customer.export", object_type="customer", object_id=customer.id, customer_id=customer.id
    )
    unit_of_work.commit()
    return jsonify(data)


@bp.post("/customers/<int:customer_id>/notes")
@documented(NoteOut, status=201, body=NoteIn)
def add_note(customer_id: int):
    """Keep a note on a customer."""
    customer = _customer(customer_id)
    note = services.add_note(customer, parse_body(NoteIn).body, author=g.agent)
    unit_of_work.commit()
    return jsonify(note_json(note)), 201


@bp.get("/customers/<int:customer_id>/orders")
@documented(OrderOut, paged=True)
def customer_orders(customer_id: int):
    """The customer's purchase history, newest first."""
    _customer(customer_id)
    query = (
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(Order.ordered_at.desc(), Order.id.desc())
    )
    return jsonify(paginate(query, order_json))


@bp.get("/lookup")
@documented(CardOut, query=[Param("phone", text(320)), Param("email", text(320))])
def lookup():
    """The customer card for ?phone= or ?email=; an unknown one answers customer null."""
    for kind in ("phone", "email"):
        value = _query_arg(kind)
        if value:
            customer = services.find_by_identity(kind, value)
            return jsonify(history.card(customer, {kind: value}, viewer=g.agent))
    raise Invalid("give phone or email", fields={"phone": "missing", "email": "missing"})


@bp.put("/orders/<path:number>")
@documented(OrderOut, status=200, also=[201], body=OrderIn)
def put_order(number: str):
    """Create or update an order from the shop or ERP."""
    body = parse_body(OrderIn)
    if g.agent.own_accounts_only:  # an order of someone else's customer does not exist
        existing = db.session.execute(
            select(Order).where(Order.number == number.strip())
        ).scalar_one_or_none()
        if existing is not None:
            access.visible_order(g.agent, existing)
    order, created = orders.upsert(number, body.model_dump(exclude_unset=True))
    access.visible_order(g.agent, order)  # a 404 rolls back: nothing written
    unit_of_work.commit()
    return jsonify(order_json(order)), 201 if created else 200


@bp.get("/orders/<path:number>")
@documented(OrderOut)
def get_order(number: str):
    """One order by its number."""
    return jsonify(order_json(access.visible_order(g.agent, orders.get_by_number(number))))
