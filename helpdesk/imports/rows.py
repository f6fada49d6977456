"""What one row of a customer or organization file does, after the mapping named its values.

A customer row whose email or phone belongs to a customer already is *merged* into that
customer: its addresses and tags are added, the other filled-in fields replace the
customer's (an empty cell changes nothing); otherwise it *creates* a customer. An
organization row matching an organization by one of its domains, else by its name (any
case), *updates* it; otherwise it *creates* one. Each row is written in a savepoint of its
own; a row that cannot be written raises, and the loader reports it as refused.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select

from helpdesk.agents.models import Agent
from helpdesk.customers import consents as consent_service
from helpdesk.customers import services
from helpdesk.customers.identities import InvalidIdentity, is_free_mail, normalise
from helpdesk.customers.models import (
    CONSENT_PURPOSES,
    Customer,
    Organization,
    OrganizationDomain,
)
from helpdesk.customers.schemas import CustomerIn
from helpdesk.errors import Conflict
from helpdesk.extensions import db
from helpdesk.fields.services import FALSE, TRUE, clean_values
from helpdesk.imports import formats
from helpdesk.imports.csvfile import Refused
from helpdesk.organizations import services as organizations
from helpdesk.organizations.schemas import OrganizationIn

CREATED, UPDATED, MERGED, REFUSED = "created", "updated", "merged", "refused"
SOURCE = "import"  # where a consent an import wrote comes from
LIMITS = {"street": 200, "postcode": 20, "city": 100, "industry": 100}


class Outcome(NamedTuple):
    """What became of a row: created, updated or merged, the record's id, and a remark."""

    outcome: str
    id: int | None
    note: str | None = None


def record(row: dict[str, str], mapping: dict[str, str]) -> dict[str, Any]:
    """The row's values by target: lists for several-valued targets, custom fields under
    ``fields`` ({KEY: text})."""
    out: dict[str, Any] = {}
    for column, value in row.items():
        target = mapping.get(column, formats.IGNORE)
        if target == formats.IGNORE:
            continue
        if target.startswith("field."):
            out.setdefault("fields", {})[target[6:]] = value
        elif target in formats.LISTS:
            out.setdefault(target, []).extend(formats.split(target, value))
        elif target in out:  # two columns for one field: both, in column order
            out[target] += " " + value
        else:
            out[target] = value
    return out


class _Common:
    """What customer and organization rows share: address, created date, account manager,
    the organizations met so far, and (dry run) what earlier, rolled-back lines made."""

    applies_to = "customer"

    def __init__(self, source: str, dry_run: bool) -> None:
        self.source = source
        self.dry_run = dry_run
        # Held, not just their ids: the service then finds them in the session instead of
        # loading them (and flushing the half-made customer first) row after row.
        self.organizations: dict[str, Organization] = {}
        self.made: dict[tuple[str, str], int] = {}  # dry run: identity or name -> line
        self._managers: dict[str, int] | None = None
        self._names: dict[str, int] | None = None
        self.new_names: list[str] = []  # organizations made in this batch

    def forget(self) -> None:
        """The batch was rolled back (dry run): its new rows are gone."""
        self.organizations.clear()
        for key in self.new_names:
            self.names().pop(key, None)
        self.new_names.clear()

    def extra(self, rec: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Address, industry, created date, manager and custom fields, checked; notes."""
        values: dict[str, Any] = {}
        notes: list[str] = []
        street = " ".join(filter(None, [rec.get("street"), rec.get("house_number")]))
        if street:
            values["street"] = street
        for key in ("postcode", "city", "industry"):
            if rec.get(key):
                values[key] = rec[key]
        for key, limit in LIMITS.items():
            if key in values and len(values[key]) > limit:
                raise Refused(f"{key}: at most {limit} characters")
        if rec.get("country"):
            values["country"] = formats.country_code(rec["country"])
        if rec.get("created_at"):
            values["created_at"] = formats.parse_time(self.source, rec["created_at"])
        if rec.get("account_manager"):
            manager = self.manager(rec["account_manager"])
            if manager is None:
                notes.append(f"account manager {rec['account_manager'][:60]!r} is no agent here")
            else:
                values["account_manager_id"] = manager
        if rec.get("fields"):
            values["custom_fields"] = clean_values(self.applies_to, rec["fields"])
        return values, notes

    def manager(self, who: str) -> int | None:
        """The agent a file names as owner, by email or by name (any case)."""
        if self._managers is None:
            self._managers = {}
            for agent_id, email, name in db.session.execute(
                select(Agent.id, Agent.email, Agent.name).order_by(Agent.id.desc())
            ):
                self._managers[email.lower()] = agent_id
                self._managers[(name or "").lower()] = agent_id
        return self._managers.get(" ".join(who.lower().split()))

    @staticmethod
    def write(thing: Customer | Organization, values: dict[str, Any], created: bool) -> None:
        """Put the checked extra values on a customer or organization."""
        for key, value in values.items():
            if key == "custom_fields":
                thing.custom_fields = {**(thing.custom_fields or {}), **value}
            elif key == "created_at":
                if created:
                    thing.created_at = value
            elif key != "industry" or isinstance(thing, Organization):
                setattr(thing, key, value)

    def names(self) -> dict[str, int]:
        """Every organization's id by its case-folded name (the first of a name), read once:
        SQLite's lower() leaves non-ASCII capitals (Ä, É) as they are, and one query
        beats one per row."""
        if self._names is None:
            self._names = {}
            for org_id, name in db.session.execute(
                select(Organization.id, Organization.name).order_by(Organization.id.desc())
            ):
                self._names[name.casefold()] = org_id
        return self._names

    def organization(self, name: str) -> Organization:
        """The organization called ``name`` (any case), created if new (``remember`` it
        once its row is written)."""
        org = self.organizations.get(name.casefold())
        if org is None and name.casefold() in self.names():
            org = db.session.get(Organization, self.names()[name.casefold()])
        if org is None:
            org = Organization(name=name, custom_fields={})
            db.session.add(org)
            db.session.flush()
        return org

    def remember(self, name: str, org: Organization) -> None:
        """An organization whose row was written: found by its name from now on (a
        rolled-back row's new one is not: its id may be given again)."""
        key = name.casefold()
        self.organizations.setdefault(key, org)
        if key not in self.names():
            self.names()[key] = org.id
            self.new_names.append(key)


class CustomerRows(_Common):
    """Creates or merges the customer of each row."""

    def load(self, line: int, rec: dict[str, Any]) -> Outcome:
        """Create or merge the customer of one row."""
        data: dict[str, Any] = {key: rec[key] for key in ("title", "key_person") if key in rec}
        name = rec.get("name") or " ".join(
            filter(None, [rec.get("first_name"), rec.get("last_name")])
        )
        if name:
            data["name"] = name
        data.update(
            {key: rec[key].lower() for key in ("language", "preferred_channel") if key in rec}
        )
        data.update(
            {
                key: rec[col]
                for key, col in (("emails", "email"), ("phones", "phone"), ("tags", "tags"))
                if col in rec
            }
        )
        if not any(key in data for key in ("name", "emails", "phones")):
            raise Refused("a customer needs a name, an email or a phone")
        fields = CustomerIn.model_validate(data, strict=False).to_service(only_set=True)
        organization = (
            OrganizationIn.model_validate({"name": rec["organization"]}, strict=False).name
            if "organization" in rec
            else None
        )
        values, notes = self.extra(rec)
        consents = _consents(rec)
        if self.dry_run:
            earlier = self._made_by(fields)
            if earlier is not None:
                return Outcome(MERGED, None, f"the same person as line {earlier}")
        try:
            # Most rows are new people: try that first, and let the service's own check
            # say when an address is someone's already (saves a lookup per address).
            with db.session.begin_nested():
                org = self._organization(organization, fields)
                customer = services.create_customer(dict(fields))
                self.write(customer, values, created=True)
                _consent(customer, consents)
                db.session.flush()
            outcome = CREATED
        except Conflict:
            with db.session.begin_nested():
                org = self._organization(organization, fields)
                customer = self._owner(fields)
                self._update(customer, fields)
                self.write(customer, values, created=False)
                _consent(customer, consents)
                db.session.flush()
            outcome = MERGED
        if org is not None:
            assert organization is not None  # an organization is found by its name
            self.remember(organization, org)
        if self.dry_run and outcome == CREATED:
            for identity in customer.identities:
                self.made.setdefault((identity.kind, identity.value), line)
        return Outcome(outcome, customer.id, "; ".join(notes) or None)

    def _made_by(self, fields: dict) -> int | None:
        """Dry run: the earlier line that made a customer with one of these addresses."""
        for key, kind in (("emails", "email"), ("phones", "phone")):
            for value in fields.get(key, []):
                try:
                    line = self.made.get((kind, normalise(kind, value)))
                except InvalidIdentity:
                    continue
                if line is not None:
                    return line
        return None

    def _organization(self, name: str | None, fields: dict) -> Organization | None:
        """The organization called ``name`` (or, when no organization has that name, the
        one owning the domain of the row's email: "Acme" written for ACME Inc.), made if
        neither; set on ``fields``."""
        if not name:
            return None
        org = None
        if name.casefold() not in self.organizations and name.casefold() not in self.names():
            with db.session.no_autoflush:
                org = next(
                    filter(None, map(services.organization_for_email, fields.get("emails", []))),
                    None,
                )
        org = org or self.organization(name)
        fields["organization_id"] = org.id
        return org

    @staticmethod
    def _update(customer: Customer, fields: dict) -> None:
        """Add the row's addresses and tags to the customer; replace the other fields."""
        for key, kind in (("emails", "email"), ("phones", "phone")):
            if key in fields:
                fields[key] = customer.values(kind) + fields[key]
        if "tags" in fields:
            fields["tags"] = list(dict.fromkeys((customer.tags or []) + fields["tags"]))
        services.apply_fields(customer, fields)

    @staticmethod
    def _owner(fields: dict) -> Customer:
        """The one customer the row's addresses belong to; two is an error."""
        owners: dict[int, tuple] = {}
        for key, kind in (("emails", "email"), ("phones", "phone")):
            for value in fields.get(key, []):
                customer = services.find_by_identity(kind, value)
                if customer is not None:
                    owners.setdefault(customer.id, (customer, f"{kind} {value}"))
        if len(owners) > 1:
            raise Refused(
                "the row's addresses belong to different customers: "
                + ", ".join(f"{what} to customer {cid}" for cid, (_, what) in owners.items())
            )
        if not owners:  # the owner was erased between the two steps
            raise Refused("an address of the row changed hands during the import; load it again")
        return next(iter(owners.values()))[0]


def _consents(rec: dict[str, Any]) -> dict[str, bool]:
    """The row's consents (yes/no cells), by purpose; Refused for a cell that is neither."""
    found = {}
    for purpose in CONSENT_PURPOSES:
        if purpose in rec:
            text = rec[purpose].strip().lower()
            if text not in TRUE | FALSE:
                raise Refused(f"{purpose}: write yes or no (got {rec[purpose][:40]!r})")
            found[purpose] = text in TRUE
    return found


def _consent(customer: Customer, consents: dict[str, bool]) -> None:
    """Write the row's consents as the customer's Consent rows (one per purpose), with the
    time and ``import`` as their source; a consent the row repeats is left as it was."""
    if consents and customer.id is None:
        db.session.flush()  # consents.change records the customer's id in the audit log
    held = {c.purpose: c for c in customer.consents}
    for purpose, granted in consents.items():
        row = held.get(purpose)
        if row is None or row.granted != granted:
            consent_service.change(customer, purpose, granted, SOURCE)  # audited


class OrganizationRows(_Common):
    """Creates or updates the organization of each row."""

    applies_to = "organization"

    def __init__(self, source: str, dry_run: bool, actor: Any) -> None:
        super().__init__(source, dry_run)
        self.actor = actor  # who sets domains (services.set_domains: leads and admins)

    def load(self, line: int, rec: dict[str, Any]) -> Outcome:
        """Create or update the organization of one row."""
        if not rec.get("name"):
            raise Refused("an organization needs a name")
        notes = []
        domains = []
        for value in rec.get("domain", []):
            domain = formats.domain_of(value)
            if is_free_mail(domain):
                notes.append(f"{domain} is a free-mail domain: not kept")
            elif domain and domain not in domains:
                domains.append(domain)
        body = OrganizationIn.model_validate(
            {"name": rec["name"], "domains": domains}, strict=False
        )
        values, more = self.extra(rec)
        notes += more
        if self.dry_run:
            for key in [("name", body.name.casefold())] + [("domain", d) for d in body.domains]:
                if key in self.made:
                    return Outcome(UPDATED, None, f"the same organization as line {self.made[key]}")
        with db.session.begin_nested():
            org = self._find(body.name, body.domains)
            created = org is None
            if org is None:
                org = Organization(name=body.name, custom_fields={})
                db.session.add(org)
            known = [d.domain for d in org.domains]
            organizations.set_domains(
                org, known + [d for d in body.domains if d not in known], self.actor
            )
            self.write(org, values, created=created)
            db.session.flush()
        self.remember(body.name, org)
        if self.dry_run and created:
            for key in [("name", body.name.casefold())] + [("domain", d) for d in body.domains]:
                self.made.setdefault(key, line)
        return Outcome(CREATED if created else UPDATED, org.id, "; ".join(notes) or None)

    def _find(self, name: str, domains: list[str]) -> Organization | None:
        """The organization owning one of ``domains``, else the first called ``name``."""
        if domains:
            owner = db.session.execute(
                select(Organization)
                .join(OrganizationDomain)
                .where(OrganizationDomain.domain.in_(domains))
                .order_by(Organization.id)
                .limit(1)
            ).scalar_one_or_none()
            if owner is not None:
                return owner
        found = self.organizations.get(name.casefold())
        if found is None and name.casefold() in self.names():
            found = db.session.get(Organization, self.names()[name.casefold()])
        return found
