"""The demo's CRM: postal addresses, custom fields with values, two shared segments and a
few planted duplicates, so that the customer list, segments and the duplicate finder
have something to show on a fresh `make run`."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from helpdesk.agents.models import Agent
from helpdesk.campaigns.models import Campaign
from helpdesk.customers.identities import normalise
from helpdesk.customers.models import Consent, Customer, Identity, Organization
from helpdesk.extensions import db
from helpdesk.fields.models import CustomField
from helpdesk.segments.models import Segment
from helpdesk.tickets.models import OPEN_STATUSES, Ticket

# region: (city, postcode, street) choices; the first German city is Berlin.
ADDRESSES = {
    "DE": [
        ("Berlin", "10115", "Invalidenstraße"),
        ("Berlin", "10999", "Oranienstraße"),
        ("Hamburg", "20095", "Mönckebergstraße"),
        ("München", "80331", "Sendlinger Straße"),
        ("Köln", "50667", "Hohe Straße"),
        ("Leipzig", "04109", "Grimmaische Straße"),
    ],
    "AT": [("Wien", "1010", "Kärntner Straße"), ("Graz", "8010", "Herrengasse")],
    "CH": [("Zürich", "8001", "Bahnhofstrasse"), ("Basel", "4051", "Freie Strasse")],
    "GB": [("London", "EC1A 1BB", "King Edward Street")],
    "US": [("Boston", "02108", "Tremont Street")],
    "FR": [("Paris", "75002", "Rue Montorgueil")],
    "NL": [("Amsterdam", "1012 JS", "Damrak")],
}
FIELDS = [  # key, label, type, options, applies_to
    ("customer_number", "Customer number", "text", [], "customer"),
    ("plan", "Plan", "select", ["Basic", "Pro", "Enterprise"], "customer"),
    ("contract_end", "Contract ends", "date", [], "customer"),
    ("newsletter_double_opt_in", "Newsletter double opt-in", "bool", [], "customer"),
    ("employees", "Employees", "number", [], "organization"),
    ("order_reference", "Order reference", "text", [], "ticket"),
]
SEGMENTS = [  # name, filter (the customer list's query keys), shared
    ("VIP customers in Berlin", {"q": "Berlin", "tag": "vip"}, True),
    ("No contact for 90 days", {"last_contact_before": "90d"}, True),
    ("Enterprise plan", {"field.plan": "Enterprise"}, True),
]


def make_crm(rng: random.Random, now: datetime) -> None:
    """Addresses and custom field values for everyone, segments, planted duplicates."""
    for key, label, kind, options, applies_to in FIELDS:
        db.session.add(
            CustomField(
                key=key,
                label=label,
                type=kind,
                options=options,
                applies_to=applies_to,
                position=len(options),
            )
        )
    customers = db.session.scalars(select(Customer).order_by(Customer.id)).all()
    for customer in customers:
        region = _region(customer)
        city, postcode, street = rng.choice(ADDRESSES[region])
        customer.street = f"{street} {rng.randint(1, 120)}"
        customer.postcode, customer.city, customer.country = postcode, city, region
        values: dict[str, Any] = {
            "customer_number": f"K-{10000 + customer.id}",
            "plan": rng.choice(("Basic", "Basic", "Pro", "Enterprise")),
        }
        if rng.random() < 0.5:
            values["contract_end"] = (now + timedelta(days=rng.randint(20, 700))).date().isoformat()
        if "newsletter" in (customer.tags or []):
            values["newsletter_double_opt_in"] = True
        customer.custom_fields = values
    _vip_in_berlin(customers)
    for org in db.session.scalars(select(Organization)):
        org.custom_fields = {"employees": rng.choice((12, 45, 180, 950, 4200))}
        org.industry = rng.choice(("Retail", "Manufacturing", "Logistics", "Software"))
    owner = db.session.scalar(select(Agent).where(Agent.email == "lead@demo.helpdesk"))
    for name, wanted, shared in SEGMENTS:
        db.session.add(
            Segment(name=name, filter=wanted, shared=shared, owner_id=owner.id if owner else None)
        )
    _duplicates(customers, now)
    db.session.flush()
    _newsletter(customers, owner, now)


def _newsletter(customers: Sequence[Customer], owner: Agent | None, now: datetime) -> None:
    """The newsletter readers (tagged, double opt-in) agreed to email marketing; a shared
    segment of them and a draft campaign to it, for `helpdesk init --demo` to show."""
    readers = [c for c in customers if "newsletter" in (c.tags or [])]
    for customer in readers:
        if customer.values("email"):
            customer.consents.append(
                Consent(
                    purpose="email_marketing",
                    granted=True,
                    at=now - timedelta(days=40),
                    source="demo: newsletter double opt-in",
                )
            )
    segment = Segment(
        name="Newsletter readers",
        filter={"tag": "newsletter"},
        shared=True,
        owner_id=owner.id if owner else None,
    )
    db.session.add(segment)
    db.session.flush()
    db.session.add(
        Campaign(
            name="Spring delivery news",
            channel="email",
            segment_id=segment.id,
            subject="Hello {first_name}: our spring delivery dates",
            body=(
                "Dear {customer_name},\n\nthis spring we deliver within two working days"
                " again.\n\nYour support team"
            ),
            status="draft",
            created_by_id=owner.id if owner else None,
        )
    )
    db.session.flush()


def _region(customer: Customer) -> str:
    """The customer's country: from their phone's calling code where they have one."""
    for phone in customer.values("phone"):
        for prefix, region in (
            ("+49", "DE"),
            ("+43", "AT"),
            ("+41", "CH"),
            ("+44", "GB"),
            ("+1", "US"),
            ("+33", "FR"),
            ("+31", "NL"),
        ):
            if phone.startswith(prefix):
                return region
    return "DE"


def _vip_in_berlin(customers: Sequence[Customer]) -> None:
    """Make sure the "Done when" of the CRM exists: some VIPs in Berlin with an open
    ticket (the demo's people are random; these are moved to Berlin)."""
    with_open = set(
        db.session.scalars(select(Ticket.customer_id).where(Ticket.status.in_(OPEN_STATUSES)))
    )
    vips = [c for c in customers if "vip" in (c.tags or []) and c.id in with_open]
    for customer in vips[:4]:
        customer.street, customer.postcode, customer.city = "Torstraße 12", "10119", "Berlin"
        customer.country = "DE"


def _duplicates(customers: Sequence[Customer], now: datetime) -> None:
    """Two people entered twice: one Gmail address written two ways, and one name twice
    in the same organization."""
    twin = Customer(
        name="Juergen Weiss",
        language="de",
        city="Hamburg",
        country="DE",
        tags=[],
        custom_fields={},
        created_at=now - timedelta(days=40),
    )
    first = Customer(
        name="Jürgen Weiß",
        language="de",
        city="Hamburg",
        country="DE",
        tags=["newsletter"],
        custom_fields={},
        created_at=now - timedelta(days=400),
    )
    first.identities = [Identity(kind="email", value=normalise("email", "juergen.weiss@gmail.com"))]
    twin.identities = [Identity(kind="email", value=normalise("email", "juergenweiss@gmail.com"))]
    db.session.add_all([first, twin])
    colleague = next((c for c in customers if c.organization_id and c.name), None)
    if colleague is not None:
        db.session.add(
            Customer(
                name=(colleague.name or "").upper(),
                organization_id=colleague.organization_id,
                language=colleague.language,
                city=colleague.city,
                country=colleague.country,
                tags=[],
                custom_fields={},
                created_at=now - timedelta(days=3),
            )
        )
