"""CRM operations: find, create, change, merge, export and erase customers.

Every function flushes; the caller commits.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from functools import cache
from typing import cast

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload

from helpdesk import realtime
from helpdesk.agents.models import Agent
from helpdesk.audit import services as audit
from helpdesk.audit import snapshots
from helpdesk.audit.services import changes, record
from helpdesk.customers import consents
from helpdesk.customers.identities import InvalidIdentity, is_free_mail, normalise
from helpdesk.customers.models import (
    Customer,
    Identity,
    Note,
    Organization,
    OrganizationDomain,
)
from helpdesk.customers.schemas import customer_json
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Invalid
from helpdesk.extensions import db
from helpdesk.fields.services import clean_values
from helpdesk.tickets.models import Ticket

log = logging.getLogger(__name__)


# Every inbound message and every screen pop runs these lookups: each statement is
# built once, on first use (when the mappers are configured), so SQLAlchemy does
# not rebuild and re-key it for its compiled-statement cache on every call.
@cache
def _by_identity(for_display: bool) -> Select:
    """The customer owning identity (:kind, :value)."""
    query = (
        select(Customer)
        .join(Identity)
        .where(Identity.kind == bindparam("kind"), Identity.value == bindparam("value"))
    )
    if for_display:  # a screen pop shows every identity: in this statement, not a second
        return query.options(joinedload(Customer.identities))
    # Ingest reads neither the identities, the organization nor the consents (only a STOP
    # does): load them only on demand.
    return query.options(
        lazyload(Customer.identities),
        lazyload(Customer.organization),
        lazyload(Customer.consents),
    )


@cache
def _by_domain() -> Select:
    """The organization owning email domain :domain."""
    return (
        select(Organization)
        .join(OrganizationDomain)
        .where(OrganizationDomain.domain == bindparam("domain"))
    )


def find_by_identity(kind: str, value: str) -> Customer | None:
    """The customer owning a normalised identity, or None (also for unparseable input)."""
    try:
        value = normalise(kind, value)
    except InvalidIdentity:
        return None
    return (
        db.session.execute(_by_identity(True), {"kind": kind, "value": value})
        .unique()
        .scalar_one_or_none()
    )


# A batch ingest's sender domains, looked up at once (tickets/ingest/batch.py).
prefetched_domains: ContextVar[dict[str, Organization | None] | None] = ContextVar(
    "prefetched_domains", default=None
)


def organization_for_email(address: str) -> Organization | None:
    """The organization that owns the domain of ``address``."""
    domain = address.rpartition("@")[2].lower()
    if is_free_mail(domain):  # never anyone's, even if an old row says so
        return None
    known = prefetched_domains.get()
    if known is not None and domain in known:
        return known[domain]
    return db.session.execute(_by_domain(), {"domain": domain}).scalar_one_or_none()


def organizations_for_emails(addresses: set[str]) -> dict[str, Organization | None]:
    """``organization_for_email`` for many addresses' domains (domain -> organization or
    None): one query."""
    domains = {address.rpartition("@")[2].lower() for address in addresses}
    found: dict[str, Organization | None] = dict.fromkeys(domains)
    wanted = {domain for domain in domains if not is_free_mail(domain)}
    if wanted:
        rows = db.session.execute(
            select(OrganizationDomain.domain, Organization)
            .join(Organization, Organization.id == OrganizationDomain.organization_id)
            .where(OrganizationDomain.domain.in_(wanted))
        )
        found.update({domain: organization for domain, organization in rows})
    return found


def find_sender(kind: str, value: str) -> Customer | None:
    """The customer owning the normalised identity (:kind, :value), for ingest: neither
    the identities nor the organization are loaded."""
    return db.session.execute(
        _by_identity(False), {"kind": kind, "value": value}
    ).scalar_one_or_none()


def new_customer(kind: str, value: str, name: str | None = None) -> Customer:
    """A new customer owning the identity (``value`` normalised), linked to the organization
    owning an email's domain; added to the session, not flushed (a concurrent creation of
    the same identity fails on the unique constraint at the caller's flush)."""
    customer = Customer(
        name=(name or "").strip()[:200] or None,
        tags=[],
        custom_fields={},
        identities=[Identity(kind=kind, value=value)],
    )
    if kind == "email":
        with db.session.no_autoflush:
            organization = organization_for_email(value)
        if organization is not None:  # the column too: read before the flush (SLA policies)
            customer.organization, customer.organization_id = organization, organization.id
    db.session.add(customer)
    return customer


def resolve_sender(kind: str, value: str, name: str | None = None) -> tuple[Customer, bool]:
    """Find the customer behind an identity, creating one if unknown; race-safe.

    Returns ``(customer, created)``. ``value`` must already be normalised.
    """
    found = find_sender(kind, value)
    if found is not None:
        return found, False
    try:
        with db.session.begin_nested():
            customer = new_customer(kind, value, name)
            db.session.flush()
    except IntegrityError:
        # Another process created the same identity between our read and write.
        winner = find_sender(kind, value)
        if winner is None:  # its transaction is not visible to ours: the caller retries
            raise Conflict("another request is creating this customer; try again") from None
        return winner, False
    log.info("created customer %s for a new %s identity", customer.id, kind)
    return customer, True


def customer_for(data: dict) -> Customer:
    """The customer an API payload names: ``customer`` (an id), else ``customer_email``
    or ``customer_phone`` (a customer is created for an unknown address)."""
    if data.get("customer") is not None:
        customer = db.session.get(Customer, data["customer"])
        if customer is None:
            raise Invalid("no such customer", fields={"customer": "unknown id"})
        return customer
    for kind, key in (("email", "customer_email"), ("phone", "customer_phone")):
        if data.get(key):
            try:
                value = normalise(kind, data[key])
            except InvalidIdentity as exc:
                raise Invalid(str(exc), fields={key: str(exc)}) from exc
            return resolve_sender(kind, value, data.get("customer_name"))[0]
    raise Invalid(
        "say which customer", fields={"customer": "give customer, customer_email or customer_phone"}
    )


def add_identity(customer: Customer, kind: str, value: str) -> Identity:
    """Attach an identity to ``customer``; refuse one that belongs to someone else."""
    try:
        value = normalise(kind, value)
    except InvalidIdentity as exc:
        raise Invalid(str(exc), fields={kind: str(exc)}) from exc
    owner = db.session.execute(
        select(Identity).where(Identity.kind == kind, Identity.value == value)
    ).scalar_one_or_none()
    if owner is not None:
        if owner.customer_id == customer.id:
            return owner
        raise Conflict(
            f"{kind} {value} belongs to customer {owner.customer_id}",
            fields={kind: "already belongs to another customer"},
        )
    identity = Identity(kind=kind, value=value)
    customer.identities.append(identity)
    if kind == "email" and customer.organization_id is None:
        customer.organization = organization_for_email(value)
    return identity


def replace_identities(customer: Customer, kind: str, values: list[str]) -> None:
    """Make ``values`` the customer's identities of ``kind``."""
    wanted = []
    for value in values:
        try:
            wanted.append(normalise(kind, value))
        except InvalidIdentity as exc:
            raise Invalid(str(exc), fields={f"{kind}s": str(exc)}) from exc
    for identity in list(customer.identities):
        if identity.kind == kind and identity.value not in wanted:
            customer.identities.remove(identity)
    db.session.flush()
    for value in wanted:
        add_identity(customer, kind, value)


SIMPLE_FIELDS = (
    "name",
    "organization_id",
    "title",
    "key_person",
    "language",
    "preferred_channel",
    "tags",
    "account_manager_id",
    "street",
    "postcode",
    "city",
    "country",
)


def card_fields(customer: Customer) -> dict:
    """What the audit log compares before and after a change of a customer."""
    return {
        **{field: getattr(customer, field) for field in SIMPLE_FIELDS},
        "emails": customer.values("email"),
        "phones": customer.values("phone"),
        "custom_fields": dict(customer.custom_fields or {}),
    }


def check_account_manager(agent_id: int | None) -> None:
    """An account manager must be an active agent."""
    if agent_id is None:
        return
    agent = db.session.get(Agent, agent_id)
    if agent is None or not agent.active:
        raise Invalid("no such active agent", fields={"account_manager": "not an active agent"})


def _set_fields(customer: Customer, data: dict) -> None:
    """Copy validated fields onto ``customer``, identities and custom fields included."""
    if (
        data.get("organization_id") is not None
        and db.session.get(Organization, data["organization_id"]) is None
    ):
        raise Invalid("no such organization", fields={"organization": "unknown id"})
    check_account_manager(data.get("account_manager_id"))
    if "custom_fields" in data:
        customer.custom_fields = clean_values(
            "customer", data["custom_fields"] or {}, customer.custom_fields
        )
    for field in SIMPLE_FIELDS:
        if field in data:
            setattr(customer, field, data[field])
    if "emails" in data:
        replace_identities(customer, "email", data["emails"])
    if "phones" in data:
        replace_identities(customer, "phone", data["phones"])


def apply_fields(customer: Customer, data: dict) -> None:
    """Change ``customer`` with validated fields (identities, custom fields key by key,
    consents); the changed fields and each consent change go to the audit log."""
    before = card_fields(customer)
    _set_fields(customer, data)
    db.session.flush()
    if data.get("consents"):
        consents.apply(customer, data["consents"])
    was, now = changes(before, card_fields(customer))
    if now:
        record(
            "customer.update",
            object_type="customer",
            object_id=customer.id,
            customer_id=customer.id,
            before=was,
            after=now,
        )
    if now or data.get("consents"):
        announce(customer)


def announce(customer: Customer, created: bool = False) -> None:
    """Announce ``customer.created`` or ``customer.updated`` to the integrations listening
    (outbound webhooks, ``realtime.announce``), with the customer as the API shows it."""
    event = "customer.created" if created else "customer.updated"
    realtime.announce(event, lambda: {"customer": customer_json(customer)})


def create_customer(data: dict) -> Customer:
    """Create a customer from validated API data; audited with what it was given."""
    customer = Customer(tags=[], custom_fields={})
    db.session.add(customer)
    _set_fields(customer, data)
    db.session.flush()
    if data.get("consents"):
        consents.apply(customer, data["consents"])
    after = {k: v for k, v in card_fields(customer).items() if v not in (None, [], {}, False)}
    record(
        "customer.create",
        object_type="customer",
        object_id=customer.id,
        customer_id=customer.id,
        after=after,
    )
    announce(customer, created=True)
    return customer


def add_note(customer: Customer, body: str, author=None) -> Note:
    """Keep a note on a customer."""
    note = Note(customer_id=customer.id, body=body, author=author)
    db.session.add(note)
    db.session.flush()
    return note


def erase(customer: Customer) -> None:
    """Delete everything held about a person: identities, tickets, messages, calls, orders."""
    from helpdesk.tickets import attachments
    from helpdesk.tickets.models import Attachment, Message

    hashes = cast(  # NULLs are filtered out; the column's type cannot say so
        set[str],
        set(
            db.session.execute(
                select(Attachment.sha256)
                .join(Message)
                .join(Ticket)
                .where(Ticket.customer_id == customer.id, Attachment.sha256.is_not(None))
            ).scalars()
        ),
    )
    customer_id = customer.id
    # What went, as counts: the record of an erasure keeps no personal data.
    audit.record(
        "customer.erase",
        object_type="customer",
        object_id=customer_id,
        customer_id=customer_id,
        before={"counts": snapshots.owned_counts(customer_id)},
    )
    db.session.delete(customer)
    db.session.flush()
    from helpdesk.unit_of_work import after_commit

    after_commit(lambda: attachments.delete_unreferenced(hashes))
    log.info("erased customer %s", customer_id)


def touch_contact(customer: Customer, at=None) -> None:
    """Record the customer's latest contact."""
    customer.last_contact_at = at or utcnow()
