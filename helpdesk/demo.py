"""Demo data for `helpdesk init --demo`: a live-looking helpdesk on the first screen.

Customer messages go through the real ingest pipeline (so matching and
threading are exercised); agents' answers are the past, stored as sent.
Deterministic: the same seed gives the same data.
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from .agents import services as agents
from .agents.models import Agent
from .channels.models import Channel
from .customers import services as customers
from .customers.models import ORDER_STATUSES, Customer, Order, OrderLine, Organization, \
    OrganizationDomain
from .extensions import db
from .models_base import utcnow
from .tickets import events
from .tickets.inbound import InboundMessage
from .tickets.ingest import ingest
from .tickets.models import PRIORITIES, Call, Message, Ticket

LOGINS = [  # email, name, role, teams, password
    ("admin@demo.helpdesk", "Alex Admin", "admin", ["Support", "Sales", "Billing"], "demo-admin"),
    ("lead@demo.helpdesk", "Lena Lead", "lead", ["Support"], "demo-lead"),
    ("agent@demo.helpdesk", "Sam Agent", "agent", ["Support"], "demo-agent"),
    ("billing@demo.helpdesk", "Bo Billing", "agent", ["Billing"], "demo-billing"),
    ("sales@demo.helpdesk", "Sara Sales", "lead", ["Sales"], "demo-sales"),
]
FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannes", "Ida", "Jonas",
         "Karla", "Lukas", "Mia", "Noah", "Olivia", "Paul", "Rosa", "Simon", "Tara", "Ugo",
         "Vera", "Wim", "Yara", "Zoe", "Grace", "Ada", "Linus", "Margaret", "Alan", "Barbara"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Hoffmann", "Schulz", "Koch", "Richter", "Klein", "Wolf", "Smith", "Jones", "Brown",
        "Taylor", "Dubois", "Rossi", "Novak", "Jansen", "Lovelace", "Hopper", "Turing"]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell",
             "Cyberdyne", "Soylent", "Vandelay", "Wonka", "Gringotts", "Oceanic", "Massive",
             "Nakatomi", "Aperture", "Black Mesa", "Monarch", "Pied Piper", "Dunder Mifflin",
             "Prestige", "Sirius", "Virtucon", "Zorg"]
PRODUCTS = [("MUG-01", "Coffee mug", "12.90"), ("TEE-02", "T-shirt", "24.00"),
            ("LAMP-3", "Desk lamp", "59.00"), ("BAG-04", "Canvas bag", "19.50"),
            ("PEN-05", "Fountain pen", "35.00"), ("BOOK-6", "Notebook", "9.90")]
CARRIERS = [("DHL", "https://www.dhl.de/track?piececode={}"),
            ("UPS", "https://www.ups.com/track?tracknum={}"),
            ("Hermes", "https://www.myhermes.de/empfangen/sendungsverfolgung/?tracking={}")]
REQUESTS = {
    "de": [("Wo ist meine Bestellung {order}?", "Hallo, ich warte seit einer Woche auf meine "
            "Bestellung {order}. Können Sie nachsehen, wo sie ist?"),
           ("Rechnung fehlt", "Guten Tag, mir fehlt die Rechnung zu Bestellung {order}."),
           ("Tasse kaputt angekommen", "Die Tasse aus Bestellung {order} kam zerbrochen an. "
            "Bekomme ich Ersatz?"),
           ("Passwort zurücksetzen", "Ich komme nicht mehr in mein Konto, bitte helfen Sie.")],
    "en": [("Where is my order {order}?", "Hi, my order {order} has not arrived yet. Any news?"),
           ("Invoice address wrong", "The invoice for order {order} has our old address."),
           ("Lamp does not switch on", "The desk lamp from order {order} does not switch on."),
           ("Cancel my order", "Please cancel order {order}, I ordered the wrong size.")],
}
ANSWERS = {"de": "Danke für Ihre Nachricht! Wir haben uns Bestellung {order} angesehen und "
                 "melden uns gleich mit Details.",
           "en": "Thanks for reaching out! We looked into order {order} and will get back "
                 "to you shortly."}
CHANNEL_ROWS = [("email", "Support mailbox", "support@demo.helpdesk", "Support"),
                ("phone", "Hotline", "+493012345000", "Support"),
                ("chat", "Website chat", "demo-website-chat", "Sales")]
STATUS_MIX = ["new", "open", "open", "pending", "solved", "closed"]


def seed(customer_count: int = 300, ticket_count: int = 160) -> list[str]:
    """Fill an empty database; return the lines `helpdesk init --demo` prints."""
    rng = random.Random(42)
    team_agents = _agents()
    channels = _channels()
    orgs = _organizations(rng)
    people = _customers(rng, orgs, customer_count)
    orders = _orders(rng, people)
    db.session.commit()
    tickets = _tickets(rng, people, orders, channels, team_agents, ticket_count)
    lines = [f"demo data: {len(orgs)} organizations, {len(people)} customers, {len(orders)} "
             f"orders, {tickets} tickets on email, SMS, phone, chat and web",
             "log in at http://127.0.0.1:5000/login as"]
    lines += [f"  {email:<24} password {password:<13} ({role})"
              for email, _, role, _, password in LOGINS]
    lines.append("API token for scripts: .venv/bin/helpdesk token create admin@demo.helpdesk")
    return lines


def _agents() -> dict[str, list[Agent]]:
    """The demo agents, by team name."""
    by_team: dict[str, list[Agent]] = {}
    for email, name, role, teams, password in LOGINS:
        agent, _ = agents.create_agent(email, name, role, teams, password)
        for team in teams:
            by_team.setdefault(team, []).append(agent)
    db.session.flush()
    return by_team


def _channels() -> dict[str, Channel]:
    """One support mailbox, one phone number and one chat widget, routed to teams."""
    from .agents.models import Team

    teams = {t.name: t for t in db.session.scalars(select(Team))}
    rows = {}
    for kind, name, address, team in CHANNEL_ROWS:
        rows[kind] = Channel(kind=kind, name=name, address=address, team_id=teams[team].id,
                             settings={"demo": True}, secrets={}, state={})
        db.session.add(rows[kind])
    db.session.flush()
    return rows


def _organizations(rng: random.Random) -> list[Organization]:
    """Companies with their email domains."""
    orgs = []
    for company in COMPANIES:
        slug = company.lower().replace(" ", "")
        orgs.append(Organization(name=f"{company} GmbH" if rng.random() < 0.5 else
                                 f"{company} Ltd", domains=[
                                     OrganizationDomain(domain=f"{slug}.example")]))
    db.session.add_all(orgs)
    db.session.flush()
    return orgs


def _phone(rng: random.Random, german: bool) -> str:
    """A valid-looking mobile number."""
    if german:
        return f"+49 151 {rng.randint(1000000, 9999999)}"
    return f"+44 7700 {rng.randint(900000, 900999)}"


def _customers(rng: random.Random, orgs: list[Organization], count: int) -> list[Customer]:
    """People, most of them working for an organization."""
    people = []
    used = set()
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        org = rng.choice(orgs) if rng.random() < 0.8 else None
        german = rng.random() < 0.65
        domain = org.domains[0].domain if org else rng.choice(["mail.example", "post.example"])
        local = f"{first}.{last}".lower().translate(str.maketrans("äöüß", "aous"))
        email = f"{local}{n}@{domain}"
        phone = _phone(rng, german)
        if phone in used:
            phone = None
        used.add(phone)
        customer = customers.create_customer({
            "name": f"{first} {last}", "emails": [email], "phones": [phone] if phone else [],
            "organization_id": org.id if org else None,
            "title": rng.choice([None, None, "Purchasing", "CTO", "Office manager", "CEO"]),
            "key_person": rng.random() < 0.1, "language": "de" if german else "en",
            "preferred_channel": rng.choice(["email", "email", "sms", "chat"]),
            "order_updates": rng.random() < 0.6,
            "tags": rng.sample(["vip", "b2b", "newsletter", "reseller"], rng.randint(0, 2)),
        })
        people.append(customer)
    return people


def _orders(rng: random.Random, people: list[Customer]) -> list[Order]:
    """Purchases in every status, with lines, carriers and tracking links."""
    orders = []
    now = utcnow()
    for n, customer in enumerate(rng.sample(people, k=min(len(people), 220))):
        for _ in range(rng.randint(1, 3)):
            number = str(10000 + len(orders))
            status = ORDER_STATUSES[len(orders) % len(ORDER_STATUSES)]
            lines = [OrderLine(sku=sku, name=name, quantity=rng.randint(1, 3),
                               unit_price=Decimal(price))
                     for sku, name, price in rng.sample(PRODUCTS, rng.randint(1, 3))]
            order = Order(number=number, customer_id=customer.id, status=status, currency="EUR",
                          lines=lines, ordered_at=now - timedelta(days=rng.randint(1, 90)),
                          total=sum((l.unit_price * l.quantity for l in lines), Decimal("0")))
            if status in ("shipped", "delayed", "delivered"):
                carrier, url = rng.choice(CARRIERS)
                tracking = f"{rng.randint(10**11, 10**12 - 1)}"
                order.carrier, order.tracking_number = carrier, tracking
                order.tracking_url = url.format(tracking)
                order.expected_delivery = date.today() + timedelta(days=rng.randint(-5, 7))
            orders.append(order)
    db.session.add_all(orders)
    db.session.flush()
    return orders


def _tickets(rng, people, orders, channels, team_agents, count: int) -> int:
    """Conversations on every channel, in every status, through the real ingest."""
    by_customer: dict[int, list[Order]] = {}
    for order in orders:
        by_customer.setdefault(order.customer_id, []).append(order)
    kinds = ["email", "email", "sms", "voice", "chat", "web"]
    made = 0
    now = utcnow()
    for n in range(count):
        customer = rng.choice(people)
        channel = kinds[n % len(kinds)]
        if channel in ("sms", "voice") and not customer.values("phone"):
            channel = "email"
        lang = customer.language or "en"
        order = rng.choice(by_customer.get(customer.id) or [None])
        number = order.number if order else str(rng.randint(10000, 10999))
        subject, body = rng.choice(REQUESTS[lang])
        started = now - timedelta(days=rng.uniform(0, 60))
        ticket = _conversation(rng, customer, channel, channels, subject.format(order=number),
                               body.format(order=number), started, n)
        _history(rng, ticket, team_agents, lang, number, started, n)
        made += 1
    db.session.commit()
    return made


def _conversation(rng, customer, channel, channels, subject, body, started, n) -> Ticket:
    """The customer's first message (and a call for the phone), through ingest."""
    phone = (customer.values("phone") or [None])[0]
    email = customer.values("email")[0]
    common = {"received_at": started, "external_id": f"demo-{n}-1"}
    if channel == "email":
        inbound = InboundMessage(channel="email", sender_kind="email", sender=email,
                                 sender_name=customer.name, subject=subject, text=body,
                                 channel_id=channels["email"].id, **common)
    elif channel == "sms":
        inbound = InboundMessage(channel="sms", sender_kind="phone", sender=phone, text=body,
                                 channel_id=channels["phone"].id, **common)
    elif channel == "voice":
        inbound = InboundMessage(channel="voice", sender_kind="phone", sender=phone,
                                 text=f"Call from {customer.name}: {subject}",
                                 channel_id=channels["phone"].id, **common)
    elif channel == "chat":
        inbound = InboundMessage(channel="chat", sender_kind="email", sender=email,
                                 sender_name=customer.name, text=body,
                                 channel_id=channels["chat"].id, **common)
    else:
        inbound = InboundMessage(channel="web", sender_kind="email", sender=email,
                                 sender_name=customer.name, subject=subject, text=body, **common)
    result = ingest(inbound)
    ticket = db.session.get(Ticket, result.ticket.id)
    if channel == "voice":
        duration = rng.randint(40, 600)
        db.session.add(Call(provider="demo", provider_id=f"demo-call-{n}", direction="in",
                            from_number=phone, to_number=channels["phone"].address,
                            status="completed", customer_id=customer.id, ticket_id=ticket.id,
                            started_at=started, answered_at=started + timedelta(seconds=8),
                            ended_at=started + timedelta(seconds=duration), duration=duration,
                            meta={}))
    ticket.created_at = started
    return ticket


def _history(rng, ticket: Ticket, team_agents, lang: str, number: str, started, n: int) -> None:
    """Past agent answers, notes, follow-ups, status and priority."""
    team = ticket.team.name if ticket.team else rng.choice(["Support", "Billing"])
    agent = rng.choice(team_agents[team])
    status = STATUS_MIX[n % len(STATUS_MIX)]
    at = started
    if status != "new":
        ticket.assignee_id = agent.id if rng.random() < 0.8 else None
        at += timedelta(minutes=rng.randint(5, 240))
        db.session.add(Message(ticket_id=ticket.id, direction="out", channel=ticket.channel,
                               author_kind="agent", author_id=agent.id, recipient=ticket.contact,
                               body_text=ANSWERS[lang].format(order=number), status="sent",
                               created_at=at, sent_at=at, meta={}))
        ticket.first_response_at = at
        ticket.message_count += 1
        events.record(ticket, "assigned", {"from": None, "to": ticket.assignee_id}, agent)
        if rng.random() < 0.4:
            at += timedelta(minutes=rng.randint(10, 600))
            follow = ingest(InboundMessage(
                channel=ticket.channel, sender_kind="phone" if ticket.channel in ("sms", "voice")
                else "email", sender=ticket.contact, text="Danke!" if lang == "de" else
                "Thank you!", subject=f"Re: {ticket.subject}", received_at=at,
                external_id=f"demo-{n}-2", channel_id=ticket.channel_id, ticket_number=ticket.id))
            ticket = db.session.get(Ticket, follow.ticket.id)
        if rng.random() < 0.3:
            db.session.add(Message(ticket_id=ticket.id, direction="note", channel=ticket.channel,
                                   author_kind="agent", author_id=agent.id, status="received",
                                   body_text="Checked with the warehouse; parcel left on time.",
                                   created_at=at + timedelta(minutes=1), meta={}))
            ticket.message_count += 1
    ticket.status = status
    ticket.priority = rng.choice(PRIORITIES[:3] * 3 + PRIORITIES[3:])
    ticket.solved_at = at if status in ("solved", "closed") else None
    ticket.last_message_at = at
    ticket.set_tags(rng.sample(["delivery", "invoice", "damage", "account", "refund"],
                               rng.randint(0, 2)))
    if rng.random() < 0.2:
        customers.add_note(ticket.customer, "Prefers a call back in the afternoon.", agent)
    db.session.commit()

