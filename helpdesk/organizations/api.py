"""REST API v1 for organizations: list, create, read (with their people), change."""

from __future__ import annotations

from flask import g, jsonify, request
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.customers.models import Customer, Organization
from helpdesk.customers.schemas import customer_json
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.organizations import services
from helpdesk.organizations.schemas import (
    OrganizationDetail,
    OrganizationIn,
    OrganizationOut,
    OrganizationPatch,
    organization_json,
)
from helpdesk.web.api import api_blueprint, paginate, parse_body
from helpdesk.web.args import int_arg
from helpdesk.web.openapi import Param, documented, integer, text

bp = api_blueprint("organizations_api", __name__, lock_writes=True)


def _text_arg(name: str, max_length: int) -> str | None:
    """A text query argument, bounded."""
    value = (request.args.get(name) or "").strip()
    if len(value) > max_length:
        raise Invalid(f"{name} is too long", fields={name: "too long"})
    return value or None


@bp.get("/organizations")
@documented(
    OrganizationOut,
    paged=True,
    query=[
        Param("q", text(200), "Part of the name"),
        Param("manager", {"oneOf": [{"const": "me"}, integer()]}, "An agent id, or me"),
        Param("sort", {"enum": list(services.SORTS)}, "name (default), -name, created_at, ..."),
    ],
)
def list_organizations():
    """Organizations the caller may see, filtered by ?q= and ?manager= (an agent id, or
    "me"), sorted by ?sort=."""
    sort = request.args.get("sort", "name")
    if sort not in services.SORTS:
        raise Invalid("no such sort", fields={"sort": "one of " + ", ".join(services.SORTS)})
    query = services.listing(g.agent, _text_arg("q", 200), sort)
    manager = _text_arg("manager", 20)
    if manager == "me":
        query = query.where(Organization.account_manager_id == g.agent.id)
    elif manager:
        query = query.where(Organization.account_manager_id == int_arg("manager"))
    return jsonify(paginate(query, organization_json))


@bp.post("/organizations")
@documented(OrganizationOut, status=201, body=OrganizationIn)
def create_organization():
    """Create an organization."""
    org = services.create(parse_body(OrganizationIn).to_service(), g.agent)
    unit_of_work.commit()
    return jsonify(organization_json(org)), 201


@bp.get("/organizations/<int:org_id>")
@documented(OrganizationDetail)
def get_organization(org_id: int):
    """One organization with its key people."""
    org = services.visible_one(g.agent, org_id)
    people = (
        db.session.execute(
            select(Customer)
            .where(Customer.organization_id == org.id, access.customer_filter(g.agent))
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
    """Change an organization; only the fields sent change (custom fields key by key)."""
    org = services.visible_one(g.agent, org_id)
    services.update(org, parse_body(OrganizationPatch).to_service(only_set=True), g.agent)
    unit_of_work.commit()
    return jsonify(organization_json(org))
