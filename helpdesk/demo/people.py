"""The demo's people: agents in their teams, channels, customers with their organizations,
orders, and the plan of each conversation."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, cast

import phonenumbers

from helpdesk.agents import services as agents
from helpdesk.channels.models import Channel
from helpdesk.customers.identities import normalise
from helpdesk.customers.models import (
    Consent,
    Customer,
    Identity,
    Order,
    OrderLine,
    Organization,
    OrganizationDomain,
)
from helpdesk.demo.content import (
    CARRIERS,
    CHANNELS,
    COMPANIES,
    COUNTRIES,
    CUSTOMER_TAGS,
    GOALS,
    KEY_TITLES,
    KINDS,
    LOGINS,
    MAIL_DOMAINS,
    NAMES,
    ORDER_AGES,
    PRODUCTS,
    TITLES,
)
from helpdesk.extensions import db
from helpdesk.tickets.models import PRIORITIES


class Actor(NamedTuple):
    """An agent as events.record sees it; ORM agents would reload after every commit."""

    id: int


@dataclass
class Person:
    """What the conversations need of a customer, kept as plain values."""

    id: int
    name: str
    email: str
    phone: str | None
    language: str
    region: str
    vip: bool
    orders: list[tuple] = field(default_factory=list)  # number, status, product, tracking, at


@dataclass
class Staff:
    """Agent ids by team, their names, and who leads each team."""

    teams: dict[str, list[int]] = field(default_factory=dict)
    team_ids: dict[str, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    leads: dict[str, int] = field(default_factory=dict)


@dataclass
class Plan:
    """One conversation to play: who, on which channel, about what, and how far it gets."""

    at: datetime
    person: Person
    channel: str
    kind: str
    order: tuple | None
    goal: str
    priority: str
    dice: list[float]


def make_staff(now: datetime) -> Staff:
    """The demo agents in their teams."""
    staff = Staff()
    for email, name, role, teams, password in LOGINS:
        agent, _ = agents.create_agent(email, name, role, list(teams), password)
        agent.created_at = now - timedelta(days=400)
        db.session.flush()
        staff.names[agent.id] = name
        for team in agent.teams:
            team.created_at = now - timedelta(days=420)
            staff.team_ids[team.name] = team.id
            staff.teams.setdefault(team.name, []).append(agent.id)
            if role == "lead":
                staff.leads.setdefault(team.name, agent.id)
    admin = staff.teams["Support"][0]
    for team_name in staff.teams:
        staff.leads.setdefault(team_name, admin)
    return staff


def rng_token() -> str:
    """A secret for the demo chat (not from the seeded generator: it must not be guessable)."""
    import secrets

    return secrets.token_urlsafe(32)


def make_channel(kind: str, staff: Staff, now: datetime) -> tuple[int, str]:
    """A demo channel routed to its team; the mailbox stays inactive (it has no IMAP server)."""
    name, address, team = CHANNELS[kind]
    settings: dict[str, Any] = {"demo": True}
    secrets_: dict[str, str] = {}
    if kind == "chat":  # try it at /chat/try: the helpdesk's own pages may always embed it
        settings.update(
            origins=[],
            greeting="Hi! Ask us anything about your order.",
            offline_message="Nobody is online right now: leave your email "
            "address and we will answer by email.",
        )
        secrets_ = {"identity_secret": rng_token()}
    row = Channel(
        kind=kind,
        name=name,
        address=address,
        team_id=staff.team_ids[team],
        active=kind != "email",
        settings=settings,
        secrets=secrets_,
        state={},
        created_at=now - timedelta(days=400),
    )
    db.session.add(row)
    db.session.flush()
    return row.id, address


def _phone(rng: random.Random, region: str, used: set[str]) -> str | None:
    """A valid mobile number of ``region``, written the international way."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None  # None would fail on the next line anyway
    digits = str(example.national_number)
    for _ in range(40):
        national = digits[:3] + "".join(str(rng.randrange(10)) for _ in digits[3:])
        number = phonenumbers.parse(f"+{example.country_code}{national}")
        written = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if phonenumbers.is_valid_number(number) and written not in used:
            used.add(written)
            return written
    return None


def _ascii(text: str) -> str:
    """An email-safe spelling of a name or company."""
    text = text.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("é", "e"), ("è", "e")):
        text = text.replace(a, b)
    return re.sub(r"[^a-z0-9.]", "", text)


def make_people(rng: random.Random, now: datetime, count: int) -> list[Person]:
    """Organizations with their domains and key people, and private customers."""
    regions = list(COUNTRIES)
    weights = [COUNTRIES[r][4] for r in regions]
    orgs = []
    region: str | None  # (None below: a private customer's)
    domain: str | None
    for company, region in COMPANIES:
        domain = f"{_ascii(company)}.example"
        orgs.append(
            (
                Organization(
                    name=f"{company} {COUNTRIES[region][3]}",
                    created_at=now - timedelta(days=rng.randint(500, 1500)),
                    domains=[OrganizationDomain(domain=domain)],
                ),
                region,
                domain,
            )
        )
    db.session.add_all(org for org, _, _ in orgs)
    db.session.flush()
    rows: list[tuple[Customer, str]] = []
    emails: set[str] = set()
    phones: set[str] = set()
    with_key_person: set[int] = set()
    org: Organization | None
    for n in range(count):
        org, region, domain = rng.choice(orgs) if n % 5 else (None, None, None)
        if region is None or rng.random() < 0.15:
            region = rng.choices(regions, weights)[0]
        names, language, *_ = COUNTRIES[region]
        first, last = rng.choice(NAMES[names][0]), rng.choice(NAMES[names][1])
        domain = domain or rng.choice(MAIL_DOMAINS)
        local = _ascii(f"{first}.{last}")
        email = f"{local}@{domain}"
        while email in emails:
            email = f"{local}{rng.randint(2, 99)}@{domain}"
        emails.add(email)
        addresses = [email]
        if rng.random() < 0.1:  # a private address beside the work one
            addresses.append(f"{_ascii(first)}{rng.randint(70, 99)}.{n}@{rng.choice(MAIL_DOMAINS)}")
        phone = _phone(rng, region, phones) if rng.random() < 0.9 else None
        key = org is not None and org.id not in with_key_person
        if key:
            assert org is not None  # (key implies an organization)
            with_key_person.add(org.id)
        title = (
            rng.choice(KEY_TITLES)
            if key
            else (rng.choice(TITLES) if org is not None and rng.random() < 0.4 else None)
        )
        tags = {"b2b"} if org is not None else set()
        tags.update(rng.sample(CUSTOMER_TAGS, rng.choice((0, 0, 1, 2))))
        # Rows built here, addresses normalised by the identity service: the generator keeps
        # them unique, and 300 create_customer calls (a check per address) cost seconds.
        since = now - timedelta(days=rng.randint(130, 900))
        identities = [
            Identity(kind="email", value=normalise("email", a), created_at=since) for a in addresses
        ]
        if phone:
            identities.append(
                Identity(kind="phone", value=normalise("phone", phone), created_at=since)
            )
        rows.append(
            (
                Customer(
                    name=f"{first} {last}",
                    identities=identities,
                    title=title,
                    key_person=key,
                    organization_id=org.id if org is not None else None,
                    language=language,
                    preferred_channel=rng.choice(
                        ("email", "email", "email", "sms", "voice", "chat")
                    ),
                    consents=[
                        Consent(
                            purpose="order_updates",
                            granted=True,
                            at=since,
                            source="demo: asked at the shop's checkout",
                        )
                    ]
                    if rng.random() < 0.6
                    else [],
                    tags=sorted(tags),
                    custom_fields={},
                    created_at=since,
                ),
                region,
            )
        )
    db.session.add_all(customer for customer, _ in rows)
    db.session.flush()
    return [
        Person(
            c.id,
            cast(str, c.name),  # (set above, like the language)
            c.values("email")[0],
            next(iter(c.values("phone")), None),
            cast(str, c.language),
            region,
            "vip" in c.tags,
        )
        for c, region in rows
    ]


def make_orders(rng: random.Random, people: list[Person], now: datetime) -> None:
    """Purchases in every status, numbered in order of time, with lines and tracking."""
    statuses = list(ORDER_AGES)
    weights = [ORDER_AGES[s][2] for s in statuses]
    drafts: list[list[Any]] = []  # [status, person, ordered at]
    for person in rng.sample(people, k=len(people) * 3 // 4):
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            drafts.append([rng.choices(statuses, weights)[0], person])
    for n, status in enumerate(statuses):  # every status at least once, whatever the dice say
        drafts[n][0] = status
    for draft in drafts:
        low, high, _ = ORDER_AGES[draft[0]]
        draft.append(now - timedelta(days=rng.uniform(low, high)))
    rows = []
    for number, (status, person, ordered) in enumerate(sorted(drafts, key=lambda d: d[2]), 10001):
        products = rng.sample(PRODUCTS, rng.choice((1, 1, 2, 3)))
        name = 1 if person.language == "de" else 2
        lines = [
            OrderLine(
                sku=p[0], name=p[name], quantity=rng.choice((1, 1, 2, 3)), unit_price=Decimal(p[3])
            )
            for p in products
        ]
        order = Order(
            number=str(number),
            customer_id=person.id,
            status=status,
            lines=lines,
            currency=COUNTRIES[person.region][2],
            ordered_at=ordered,
            total=sum(
                (cast(Decimal, line.unit_price) * line.quantity for line in lines), Decimal(0)
            ),
            updated_at=min(now, ordered + timedelta(hours=rng.randint(1, 48))),
        )
        tracking = None
        if status in ("shipped", "delayed", "delivered", "returned"):
            carrier, url = rng.choice(CARRIERS)
            order.carrier, order.tracking_number = carrier, str(rng.randint(10**11, 10**12 - 1))
            order.tracking_url = url.format(order.tracking_number)
            tracking = f"{carrier}: {order.tracking_url}"
            if status == "shipped":  # on its way
                expected = now + timedelta(days=rng.randint(1, 3))
            elif status == "delayed":  # overdue
                expected = now - timedelta(days=rng.randint(1, 5))
            else:  # arrived a few days after the order
                expected = ordered + timedelta(days=rng.randint(1, 5))
            order.expected_delivery = expected.date()
        rows.append(order)
        person.orders.append((order.number, status, products[0][name], tracking, ordered))
    db.session.add_all(rows)
    db.session.flush()


def make_plan(rng: random.Random, people: list[Person], now: datetime) -> Plan:
    """Draw a conversation; regulars (the first 40 people) write more often."""
    # A quarter from the last three days (today's inbox), the rest over two months.
    age = rng.uniform(0, 3) if rng.random() < 0.25 else 60 * rng.random() ** 1.3
    at = now - timedelta(days=age)
    kind = rng.choices(list(KINDS), [k[3] for k in KINDS.values()])[0]
    crowd = people[:40] if rng.random() < 0.2 else people
    # People ask about what they bought in the month before, in a status that fits.
    fitting = [
        (person, order)
        for person in crowd
        for order in person.orders
        if order[1] in KINDS[kind][1] and at - timedelta(days=30) < order[4] < at
    ]
    if fitting:
        person, order = rng.choice(fitting)
    else:
        person, order = rng.choice(crowd), None
        if KINDS[kind][1]:
            kind = rng.choice(("account", "product"))
    channel = rng.choices(("email", "sms", "voice", "chat", "web"), (35, 15, 15, 20, 15))[0]
    if channel in ("sms", "voice") and not person.phone:
        channel = "email"
    goal = rng.choices(
        ("new", "open", "pending", "done"), next(weights for limit, weights in GOALS if age < limit)
    )[0]
    return Plan(
        at,
        person,
        channel,
        kind,
        order,
        goal,
        rng.choices(PRIORITIES, KINDS[kind][4])[0],
        [rng.random() for _ in range(11)],
    )
