"""REST API v1 for the CRM: customers, organizations, lookup (the card) and orders."""

from __future__ import annotations

from flask import g, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from helpdesk import unit_of_work
from helpdesk.agents.auth import require_role
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
    OrganizationDetail,
    OrganizationIn,
    OrganizationOut,
    OrganizationPatch,
    TimelineOut,
    customer_json,
    note_json,
    order_json,
    organization_json,
)
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.tickets.schemas import CardOut
from helpdesk.web.api import (
    api_blueprint,
    contains_pattern,
    get_or_404,
    paginate,
    parse_body,
)
from helpdesk.web.args import int_arg
from helpdesk.web.openapi import PAGE, Param, documented, integer, text

bp = api_blueprint("customers_api", __name__, lock_writes=True)


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
    customer = services.create_customer(body.to_service())
    unit_of_work.commit()
    return jsonify(customer_json(customer)), 201


@bp.get("/customers/<int:customer_id>")
@documented(CustomerOut)
def get_customer(customer_id: int):
    """One customer."""
    return jsonify(customer_json(get_or_404(Customer, customer_id, "customer")))


@bp.patch("/customers/<int:customer_id>")
@documented(CustomerOut, body=CustomerIn)
def update_customer(customer_id: int):
    """Change a customer; only the fields sent are changed."""
    customer = get_or_404(Customer, customer_id, "customer")
    body = parse_body(CustomerIn)
    services.apply_fields(customer, body.to_service(only_set=True))
    unit_of_work.commit()
    return jsonify(customer_json(customer))


@bp.delete("/customers/<int:customer_id>")
@require_role("admin")
@documented(None, status=204)
def erase_customer(customer_id: int):
    """Erase everything held about a person (admins only)."""
    services.erase(get_or_404(Customer, customer_id, "customer"))
    unit_of_work.commit()
    return "", 204


@bp.get("/customers/<int:customer_id>/timeline")
@documented(TimelineOut, query=PAGE)
def customer_timeline(customer_id: int):
    """Every interaction on every channel, newest first, paginated."""
    customer = get_or_404(Customer, customer_id, "customer")
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
    """Fold another customer ({"from": ID}) into this one."""
    into = get_or_404(Customer, customer_id, "customer")
    body = parse_body(MergeIn)
    other = db.session.get(Customer, body.from_)
    if other is None:
        raise Invalid("no such customer to merge from", fields={"from": "unknown id"})
    services.merge(into, other)
    unit_of_work.commit()
    return jsonify(customer_json(into))


@bp.get("/customers/<int:customer_id>/export")
@require_role("lead")
@documented(ExportOut)
def export_customer(customer_id: int):
    """All data held about a person: everything for admins; for leads what they may
    open (agents.access) and the CRM data."""
    return jsonify(export.export(get_or_404(Customer, customer_id, "customer"), g.agent))


@bp.post("/customers/<int:customer_id>/notes")
@documented(NoteOut, status=201, body=NoteIn)
def add_note(customer_id: int):
    """Keep a note on a customer."""
    customer = get_or_404(Customer, customer_id, "customer")
    note = services.add_note(customer, parse_body(NoteIn).body, author=g.agent)
    unit_of_work.commit()
    return jsonify(note_json(note)), 201


@bp.get("/customers/<int:customer_id>/orders")
@documented(OrderOut, paged=True)
def customer_orders(customer_id: int):
    """The customer's purchase history, newest first."""
    get_or_404(Customer, customer_id, "customer")
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


@bp.get("/organizations")
@documented(
    OrganizationOut,
    paged=True,
    query=[
        Param("q", text(200), "Part of the name"),
        Param("manager", {"oneOf": [{"const": "me"}, integer()]}, "An agent id, or me"),
    ],
)
def list_organizations():
    """Organizations, filtered by ?q= and ?manager= (an agent id, or "me")."""
    query = (
        select(Organization)
        .options(selectinload(Organization.domains))
        .order_by(Organization.name, Organization.id)
    )
    q = _query_arg("q", 200)
    if q:
        query = query.where(func.lower(Organization.name).like(contains_pattern(q), escape="\\"))
    manager = _query_arg("manager", 20)
    if manager == "me":
        query = query.where(Organization.account_manager_id == g.agent.id)
    elif manager:
        query = query.where(Organization.account_manager_id == int_arg("manager"))
    return jsonify(paginate(query, organization_json))


def _apply_organization(org: Organization, data: dict) -> None:
    """Copy validated organization fields, checking domains (services.set_domains) and
    the manager."""
    from helpdesk.agents.models import Agent

    if (
        data.get("account_manager") is not None
        and db.session.get(Agent, data["account_manager"]) is None
    ):
        raise Invalid("no such agent", fields={"account_manager": "unknown id"})
    if "domains" in data:
        services.set_domains(org, data["domains"] or [], g.agent)
    for field, attr in (
        ("name", "name"),
        ("notes", "notes"),
        ("account_manager", "account_manager_id"),
    ):
        if field in data and (data[field] is not None or field != "name"):
            setattr(org, attr, data[field])


@bp.post("/organizations")
@documented(OrganizationOut, status=201, body=OrganizationIn)
def create_organization():
    """Create an organization."""
    body = parse_body(OrganizationIn)
    org = Organization(name=body.name)
    db.session.add(org)
    _apply_organization(org, body.model_dump())
    unit_of_work.commit()
    return jsonify(organization_json(org)), 201


@bp.get("/organizations/<int:org_id>")
@documented(OrganizationDetail)
def get_organization(org_id: int):
    """One organization with its key people."""
    org = get_or_404(Organization, org_id, "organization")
    people = (
        db.session.execute(
            select(Customer)
            .where(Customer.organization_id == org.id)
            .order_by(Customer.key_person.desc(), Customer.name)
            .limit(50)
        )
        .unique()
        .scalars()
    )
    return jsonify({**organization_json(org), "people": [customer_json(c) for c in people]})


@bp.patch("/organizations/<int:org_id>")
@documented(OrganizationOut, body=OrganizationPatch)
def update_organization(org_id: int):
    """Change an organization."""
    org = get_or_404(Organization, org_id, "organization")
    _apply_organization(org, parse_body(OrganizationPatch).model_dump(exclude_unset=True))
    unit_of_work.commit()
    return jsonify(organization_json(org))


@bp.put("/orders/<path:number>")
@documented(OrderOut, status=200, also=[201], body=OrderIn)
def put_order(number: str):
    """Create or update an order from the shop or ERP."""
    body = parse_body(OrderIn)
    order, created = orders.upsert(number, body.model_dump(exclude_unset=True))
    unit_of_work.commit()
    return jsonify(order_json(order)), 201 if created else 200


@bp.get("/orders/<path:number>")
@documented(OrderOut)
def get_order(number: str):
    """One order by its number."""
    return jsonify(order_json(orders.get_by_number(number)))
