"""Organization operations: create and change them (audited), their domains, their people
and those people's open tickets. Every function flushes; the caller commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from helpdesk.agents import access
from helpdesk.audit.services import changes, record
from helpdesk.customers.identities import is_free_mail
from helpdesk.customers.models import Customer, Organization, OrganizationDomain
from helpdesk.customers.services import check_account_manager
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.fields.services import clean_values
from helpdesk.tickets.models import OPEN_STATUSES, Ticket
from helpdesk.web.api import contains_pattern

SIMPLE_FIELDS = (
    "name",
    "notes",
    "industry",
    "account_manager_id",
    "street",
    "postcode",
    "city",
    "country",
)
SORTS = {
    "name": (func.lower(Organization.name), Organization.id),
    "-name": (func.lower(Organization.name).desc(), Organization.id.desc()),
    "-created_at": (Organization.created_at.desc(), Organization.id.desc()),
    "created_at": (Organization.created_at, Organization.id),
}


def snapshot(org: Organization) -> dict[str, Any]:
    """What the audit log compares before and after a change of an organization."""
    return {
        **{field: getattr(org, field) for field in SIMPLE_FIELDS},
        "domains": sorted(d.domain for d in org.domains),
        "custom_fields": dict(org.custom_fields or {}),
    }


def _apply(org: Organization, data: dict, actor) -> None:
    """Copy validated fields onto ``org``: domains through set_domains, custom fields key
    by key, the account manager an active agent."""
    check_account_manager(data.get("account_manager_id"))
    if "custom_fields" in data:
        org.custom_fields = clean_values(
            "organization", data["custom_fields"] or {}, org.custom_fields
        )
    if "domains" in data:
        set_domains(org, data["domains"] or [], actor)
    for field in SIMPLE_FIELDS:
        if field in data and (data[field] is not None or field != "name"):
            setattr(org, field, data[field])


def create(data: dict, actor) -> Organization:
    """A new organization; audited with what it was given."""
    org = Organization(name=data["name"], custom_fields={})
    db.session.add(org)
    _apply(org, data, actor)
    if actor is not None and not access.can_see_organization(actor, org):
        org.account_manager_id = actor.id  # an account manager's new organization is theirs
    db.session.flush()
    after = {k: v for k, v in snapshot(org).items() if v not in (None, [], {})}
    record("organization.create", object_type="organization", object_id=org.id, after=after)
    return org


def update(org: Organization, data: dict, actor) -> Organization:
    """Change an organization; the changed fields go to the audit log."""
    before = snapshot(org)
    _apply(org, data, actor)
    db.session.flush()
    was, now = changes(before, snapshot(org))
    if now:
        record(
            "organization.update",
            object_type="organization",
            object_id=org.id,
            before=was,
            after=now,
        )
    return org


def visible(viewer) -> Select:
    """The organizations ``viewer`` may see (account managers: the ones they manage)."""
    return select(Organization).where(access.organization_filter(viewer))


def visible_one(viewer, org_id: int) -> Organization:
    """The organization ``org_id`` if ``viewer`` may see it; otherwise NotFound."""
    org = db.session.scalar(visible(viewer).where(Organization.id == org_id))
    if org is None:
        raise NotFound("no such organization")
    return org


def listing(viewer, q: str | None, sort: str) -> Select:
    """The organizations list: a part of the name, sorted (SORTS)."""
    query = visible(viewer).options(selectinload(Organization.domains))  # no N+1
    if q:
        query = query.where(func.lower(Organization.name).like(contains_pattern(q), escape="\\"))
    return query.order_by(*SORTS.get(sort, SORTS["name"]))


def count(query: Select) -> int:
    """How many rows a listing holds, all pages."""
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def open_tickets(customer_ids: list[int], viewer) -> dict[int, list[Ticket]]:
    """The open tickets ``viewer`` may see of these customers, by customer, newest first."""
    if not customer_ids:
        return {}
    rows = db.session.scalars(
        select(Ticket)
        .where(
            Ticket.customer_id.in_(customer_ids),
            Ticket.status.in_(OPEN_STATUSES),
            access.ticket_filter(viewer, among_few=True),
        )
        .order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
    ).unique()
    found: dict[int, list[Ticket]] = {}
    for ticket in rows:
        found.setdefault(ticket.customer_id, []).append(ticket)
    return found


def set_domains(org: Organization, domains: list[str], actor) -> None:
    """Give ``org`` exactly these email domains (normalised already). Only leads and
    admins change them (new customers writing from a domain join its organization);
    free-mail domains and another organization's are refused."""
    wanted = list(dict.fromkeys(domains))
    if set(wanted) == {d.domain for d in org.domains}:
        return
    if actor.role == "agent":
        raise Forbidden("only leads and admins change an organization's domains")
    free = [d for d in wanted if is_free_mail(d)]
    if free:
        raise Invalid(
            "free-mail domains belong to no organization",
            fields={"domains": f"{free[0]} is a free-mail domain"},
        )
    with db.session.no_autoflush:
        taken = (
            db.session.execute(
                select(OrganizationDomain).where(
                    OrganizationDomain.domain.in_(wanted),
                    OrganizationDomain.organization_id != (org.id or 0),
                )
            )
            .scalars()
            .first()
        )
    if taken is not None:
        raise Invalid(
            "domain belongs to another organization",
            fields={"domains": f"{taken.domain} is taken"},
        )
    org.domains = [d for d in org.domains if d.domain in wanted] + [
        OrganizationDomain(domain=d) for d in wanted if d not in {x.domain for x in org.domains}
    ]


def people(org: Organization, viewer, page: int, per_page: int) -> tuple[list[Customer], bool, int]:
    """One page of an organization's people (key people first), whether more follow, and
    how many of its open tickets ``viewer`` may see."""
    people = (
        db.session.execute(
            select(Customer)
            .where(Customer.organization_id == org.id, access.customer_filter(viewer))
            .order_by(Customer.key_person.desc(), func.lower(Customer.name), Customer.id)
            .limit(per_page + 1)
            .offset((page - 1) * per_page)
        )
        .unique()
        .scalars()
        .all()
    )
    open_count = db.session.execute(
        select(func.count())
        .select_from(Ticket)
        .join(Customer)
        .where(
            Customer.organization_id == org.id,
            Ticket.status.in_(OPEN_STATUSES),
            access.ticket_filter(viewer),
        )
    ).scalar_one()
    return list(people[:per_page]), len(people) > per_page, open_count
