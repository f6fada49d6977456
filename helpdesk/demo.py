"""Demo data for `helpdesk init --demo`: a live-looking helpdesk on the first screen.

Teams, agents of every role, organizations with key people, customers from
Germany and abroad, orders in every status, and conversations on every channel
over the last 60 days. Customers' messages and calls go through the real
ingest (matching, threading, the filing of calls); agents' answers are
history, stored as sent. Deterministic: the same seed gives the same data.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import phonenumbers
from sqlalchemy import func, select, update

from .agents import services as agents
from .agents.models import Agent, Team
from .channels import calls
from .channels.models import Channel
from .customers.identities import normalise
from .customers.models import (Customer, Identity, Note, Order, OrderLine, Organization,
                               OrganizationDomain)
from .extensions import db
from .models_base import utcnow
from .tickets import events
from .tickets.inbound import InboundMessage
from .tickets.ingest import ingest
from .tickets.models import PRIORITIES, Call, Message, Ticket, TicketEvent

# --- the cast ------------------------------------------------------------------
LOGINS = [  # email, name, role, teams, password (printed: these are demo logins)
    ("admin@demo.helpdesk", "Alex Admin", "admin", ("Support", "Sales", "Billing"), "demo-admin"),
    ("lead@demo.helpdesk", "Lena Lead", "lead", ("Support", "Billing"), "demo-lead"),
    ("agent@demo.helpdesk", "Sam Agent", "agent", ("Support",), "demo-agent"),
    ("jonas@demo.helpdesk", "Jonas Becker", "agent", ("Support",), "demo-jonas"),
    ("billing@demo.helpdesk", "Bo Billing", "agent", ("Billing",), "demo-billing"),
    ("sales@demo.helpdesk", "Sara Sales", "lead", ("Sales",), "demo-sales"),
    ("chat@demo.helpdesk", "Mira Chat", "agent", ("Sales",), "demo-chat"),
]
CHANNELS = {"email": ("Support mailbox", "support@demo.helpdesk", "Support"),
            "phone": ("Hotline", "+4930901820", "Support"),
            "chat": ("Website chat", "demo-website-chat", "Sales")}
COUNTRIES = {  # region: names, language, currency, company suffix, weight
    "DE": ("de", "de", "EUR", "GmbH", 58), "AT": ("de", "de", "EUR", "GmbH", 8),
    "CH": ("de", "de", "CHF", "AG", 7), "GB": ("en", "en", "GBP", "Ltd", 10),
    "US": ("en", "en", "USD", "Inc.", 5), "FR": ("fr", "en", "EUR", "SARL", 6),
    "NL": ("nl", "en", "EUR", "B.V.", 6)}
NAMES = {
    "de": ("Anna Ben Clara David Emma Felix Greta Hannes Ida Jonas Karla Lukas Mia Noah Paul "
           "Rosa Simon Lea Jan Sophie Max Marie Tim Julia Moritz Hannah Tobias Katrin Jürgen "
           "Ursula".split(),
           "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Schulz Koch "
           "Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hartmann Lange "
           "Werner Krause Lehmann Köhler Maier Huber Vogel Özdemir".split()),
    "en": ("Oliver Amelia George Isla Harry Ava Jack Emily Charlie Grace Thomas Lily James "
           "William Olivia Daniel Chloe Michael Sarah John".split(),
           "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson "
           "Evans Walker White Roberts Green Hall Wood Clarke Hughes".split()),
    "fr": ("Camille Louis Léa Hugo Chloé Jules Manon Lucas Inès Gabriel Zoé Arthur".split(),
           "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Laurent "
           "Lefèvre".split()),
    "nl": ("Daan Emma Sem Julia Lucas Tess Levi Sophie Finn Anna Milan Sara".split(),
           ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser",
            "Smit", "Meijer", "de Boer", "Mulder", "Bos"]),
}
COMPANIES = [("Nordlicht Logistik", "DE"), ("Rheinwerk Maschinenbau", "DE"),
             ("Alpenblick Hotels", "AT"), ("Elbe Medien", "DE"), ("Isar Consulting", "DE"),
             ("Spreewald Feinkost", "DE"), ("Hanse Handel", "DE"), ("Bodensee Sport", "CH"),
             ("Brandt & Söhne", "DE"), ("Kieler Werft", "DE"), ("Zürcher Uhren", "CH"),
             ("Wiener Kaffeehaus", "AT"), ("Acme", "US"), ("Globex", "DE"), ("Initech", "GB"),
             ("Umbrella", "DE"), ("Hooli", "DE"), ("Vandelay Industries", "GB"),
             ("Wonka Confectionery", "GB"), ("Pied Piper", "NL"), ("Dunder Mifflin", "NL"),
             ("Aperture Labs", "DE"), ("Tyrell", "FR"), ("Cyberdyne", "FR"),
             ("Monarch Solutions", "DE")]
MAIL_DOMAINS = ("mail.example", "post.example", "inbox.example", "web.example")
KEY_TITLES = ("CEO", "Geschäftsführerin", "Head of Purchasing", "Einkaufsleiter", "CTO")
TITLES = ("Buchhaltung", "Accounts Payable", "Assistant", "Project Manager", "Lagerleitung",
          "IT Administrator")
CUSTOMER_TAGS = ("vip", "newsletter", "reseller", "wholesale")

# --- the shop ------------------------------------------------------------------
PRODUCTS = [("MUG-01", "Kaffeebecher", "Coffee mug", "12.90"),
            ("TEE-02", "Bio-T-Shirt", "Organic T-shirt", "24.00"),
            ("LAMP-03", "Schreibtischlampe", "Desk lamp", "59.00"),
            ("BAG-04", "Canvas-Tasche", "Canvas bag", "19.50"),
            ("PEN-05", "Füllfederhalter", "Fountain pen", "35.00"),
            ("BOOK-06", "Notizbuch A5", "A5 notebook", "9.90"),
            ("CHAIR-07", "Bürostuhl", "Office chair", "249.00"),
            ("KBD-08", "Tastatur", "Keyboard", "89.00")]
CARRIERS = [("DHL", "https://www.dhl.de/de/privatkunden/dhl-sendungsverfolgung.html?piececode={}"),
            ("UPS", "https://www.ups.com/track?tracknum={}"),
            ("DPD", "https://tracking.dpd.de/status/de_DE/parcel/{}"),
            ("Hermes", "https://www.myhermes.de/empfangen/sendungsverfolgung/?tracking={}"),
            ("GLS", "https://gls-group.com/DE/de/paketverfolgung?match={}")]
ORDER_AGES = {  # status: youngest and oldest age in days, weight
    "pending": (0.05, 2, 6), "paid": (0.2, 3, 8), "processing": (1, 5, 8),
    "shipped": (2, 7, 12), "delayed": (6, 20, 8), "delivered": (8, 120, 40),
    "cancelled": (3, 90, 8), "returned": (20, 120, 10)}

# --- what customers write and agents answer ------------------------------------
# Per kind: team, fitting order statuses, tags, weight, priority weights
# (low, normal, high, urgent), and per language: subject, first message,
# customer's follow-up, agent's answer, agent's closing answer, internal note.
HI = {"de": "Hallo {first},\n\n", "en": "Hi {first},\n\n"}
BYE = {"de": "\n\nViele Grüße\n{agent}", "en": "\n\nBest regards,\n{agent}"}
KINDS = {
    "delivery": ("Support", ("processing", "shipped", "delayed", "delivered"), ("delivery",),
                 30, (10, 60, 22, 8), {
        "de": ("Wo ist meine Bestellung {order}?",
               "Hallo,\n\nich warte seit einer Woche auf meine Bestellung {order}. Können Sie "
               "bitte nachsehen, wo sie bleibt?\n\nViele Grüße\n{name}",
               "Danke, aber in der Sendungsverfolgung tut sich seit drei Tagen nichts. Wann "
               "kommt das Paket?",
               "Ihre Bestellung {order} ist unterwegs{tracking}. Wir behalten die Sendung im "
               "Blick.",
               "der Versanddienst hat die Zustellung für morgen bestätigt. Melden Sie sich gern, "
               "falls noch etwas fehlt.",
               "Beim Versanddienst nachgefragt: Paket liegt im Verteilzentrum, Zustellung in 1-2 "
               "Tagen."),
        "en": ("Where is my order {order}?",
               "Hi,\n\nmy order {order} still has not arrived. Could you check where it is?"
               "\n\nThanks,\n{name}",
               "Thanks, but the tracking page has not changed for three days. When will it "
               "arrive?",
               "your order {order} is on its way{tracking}. We are keeping an eye on it.",
               "the carrier confirmed delivery for tomorrow. Let us know if anything is still "
               "missing.",
               "Checked with the carrier: the parcel is at the hub, delivery in 1-2 days.")}),
    "invoice": ("Billing", ("paid", "shipped", "delayed", "delivered"), ("invoice",), 14,
                (20, 70, 8, 2), {
        "de": ("Rechnung zu Bestellung {order}",
               "Guten Tag,\n\nfür unsere Buchhaltung brauche ich die Rechnung zu Bestellung "
               "{order}, bitte mit unserer Firmenanschrift.\n\nMit freundlichen Grüßen\n{name}",
               "Die Rechnung ist da, aber unsere USt-IdNr. fehlt. Können Sie das ergänzen?",
               "die Rechnung zu Bestellung {order} finden Sie in Ihrem Kundenkonto; eine Kopie "
               "haben wir Ihnen eben geschickt.",
               "wir haben die Rechnung mit Ihrer USt-IdNr. neu ausgestellt und Ihnen zugeschickt.",
               "Rechnung neu erzeugt, die alte storniert."),
        "en": ("Invoice for order {order}",
               "Hello,\n\nour accounts team needs the invoice for order {order}, with our "
               "company address please.\n\nKind regards,\n{name}",
               "Got it, thanks, but our VAT number is missing. Can you add it?",
               "the invoice for order {order} is in your customer account; we just sent you a "
               "copy as well.",
               "we reissued the invoice with your VAT number and sent it to you.",
               "Invoice regenerated, the old one cancelled.")}),
    "damage": ("Support", ("delivered", "returned"), ("damage", "replacement"), 12,
               (0, 45, 40, 15), {
        "de": ("{product} beschädigt angekommen",
               "Hallo,\n\nin meiner Bestellung {order} war der Artikel „{product}“ kaputt. Fotos "
               "kann ich schicken. Bekomme ich Ersatz?\n\nGrüße\n{name}",
               "Hier die Fotos. Bitte schicken Sie Ersatz, eine Erstattung brauche ich nicht.",
               "das tut uns leid! Schicken Sie uns bitte ein Foto des Schadens, dann senden wir "
               "sofort Ersatz.",
               "der Ersatz ist heute rausgegangen; die beschädigte Ware müssen Sie nicht "
               "zurückschicken.",
               "Ersatzlieferung angelegt, Schaden beim Versanddienst gemeldet."),
        "en": ("{product} arrived broken",
               "Hi,\n\nthe {product} from order {order} arrived damaged. I can send photos. "
               "Can you send a replacement?\n\n{name}",
               "Photos attached. A replacement is fine, no refund needed.",
               "sorry about that! Please send us a photo of the damage and we will ship a "
               "replacement right away.",
               "your replacement shipped today; no need to send the damaged item back.",
               "Replacement order created, damage reported to the carrier.")}),
    "return": ("Support", ("delivered", "returned"), ("return", "refund"), 10, (25, 65, 8, 2), {
        "de": ("Rücksendung Bestellung {order}",
               "Hallo,\n\nich möchte „{product}“ aus Bestellung {order} zurückgeben. Wie bekomme "
               "ich ein Rücksendeetikett?\n\n{name}",
               "Das Paket ist heute zurückgegangen. Wann kommt das Geld?",
               "Ihr Rücksendeetikett finden Sie im Kundenkonto bei Bestellung {order}.",
               "die Rücksendung ist angekommen, die Erstattung ist angewiesen.",
               "Retoure geprüft, Ware einwandfrei, Erstattung freigegeben."),
        "en": ("Return for order {order}",
               "Hi,\n\nI would like to return the {product} from order {order}. How do I get "
               "a return label?\n\n{name}",
               "Sent the parcel back today. When do I get my money?",
               "your return label is in your customer account under order {order}.",
               "your return arrived and the refund is on its way.",
               "Return checked, item fine, refund released.")}),
    "cancel": ("Billing", ("pending", "paid", "cancelled"), ("cancellation", "refund"), 10,
               (10, 60, 25, 5), {
        "de": ("Bestellung {order} stornieren",
               "Hallo,\n\nbitte stornieren Sie meine Bestellung {order}, ich habe mich in der "
               "Größe vertan.\n\nDanke\n{name}",
               "Wann bekomme ich das Geld zurück?",
               "wir haben Bestellung {order} storniert. Die Erstattung geht in den nächsten "
               "Tagen an Ihre Zahlungsart zurück.",
               "die Erstattung wurde heute angewiesen und ist in 3-5 Werktagen bei Ihnen.",
               "Storno im Shop gebucht, Erstattung angestoßen."),
        "en": ("Please cancel order {order}",
               "Hi,\n\nplease cancel my order {order}, I picked the wrong size.\n\nThanks,\n{name}",
               "When will I get my money back?",
               "we cancelled order {order}. The refund goes back to your payment method within "
               "a few days.",
               "the refund went out today and should reach you in 3-5 business days.",
               "Cancelled in the shop, refund started.")}),
    "account": ("Support", (), ("account",), 12, (10, 70, 15, 5), {
        "de": ("Passwort zurücksetzen",
               "Hallo,\n\nich komme nicht mehr in mein Kundenkonto, die E-Mail zum Zurücksetzen "
               "des Passworts kommt nicht an.\n\n{name}",
               "Die Mail war im Spam-Ordner, jetzt klappt es. Danke!",
               "wir haben Ihnen eben einen neuen Link zum Zurücksetzen geschickt. Bitte schauen "
               "Sie auch im Spam-Ordner nach.",
               "schön, dass es jetzt klappt!",
               "Reset-Link von Hand ausgelöst; der Mailserver des Kunden filtert unsere Absender."),
        "en": ("Password reset not working",
               "Hi,\n\nI cannot log in to my account and the password reset email never "
               "arrives.\n\n{name}",
               "It was in my spam folder, works now. Thanks!",
               "we just sent you a new reset link. Please check your spam folder too.",
               "great to hear it works now!",
               "Triggered the reset link by hand; the customer's mail server filters us.")}),
    "product": ("Sales", (), ("presales",), 12, (30, 60, 10, 0), {
        "de": ("Frage zu {product}",
               "Hallo,\n\ngibt es „{product}“ auch in Schwarz, und ab welcher Menge gibt es "
               "Mengenrabatt?\n\n{name}",
               "Super, dann nehmen wir 20 Stück. Schicken Sie uns ein Angebot?",
               "ja, „{product}“ gibt es auch in Schwarz. Ab 10 Stück gewähren wir 10 % Rabatt.",
               "das Angebot ist unterwegs, es gilt 30 Tage.",
               "Angebot über 20 Stück erstellt, Wiedervorlage in einer Woche."),
        "en": ("Question about the {product}",
               "Hi,\n\nis the {product} available in black, and do you offer a volume "
               "discount?\n\n{name}",
               "Great, we will take 20. Could you send us a quote?",
               "yes, the {product} comes in black too. From 10 pieces we give 10% off.",
               "the quote is on its way and valid for 30 days.",
               "Quote for 20 pieces created, follow up in a week.")}),
}
CHASER = {"de": "Gibt es schon Neuigkeiten zu meiner Anfrage?", "en": "Any news on my request?"}
ASK = {"de": "danke! Können Sie uns noch Ihre Lieferadresse bestätigen? Dann geht es sofort "
             "weiter.",
       "en": "thanks! Could you confirm your delivery address? Then we can go ahead."}
CUSTOMER_NOTES = {"de": ["Möchte nachmittags zurückgerufen werden.",
                         "Rechnungen bitte immer an die Einkaufsabteilung.",
                         "Stammkunde seit Jahren, bei Problemen kulant sein."],
                  "en": ["Prefers a call back in the afternoon.",
                         "Invoices always to the purchasing department.",
                         "Long-standing customer: be generous when something goes wrong."]}
GOALS = [(0.5, (60, 25, 15, 0)), (3, (25, 30, 20, 25)), (14, (3, 12, 15, 70)),
         (61, (1, 5, 6, 88))]  # age limit in days: weights of new, open, pending, done
# Hours until the team triages, answers, and the customer writes back, per channel.
TRIAGE = {"email": (0.03, 0.7), "web": (0.03, 0.7), "sms": (0.03, 0.7), "voice": (0.03, 0.7),
          "chat": (0.01, 0.05)}
RESPONSE = {"email": (0.5, 20), "web": (0.5, 20), "sms": (0.1, 5), "chat": (0.02, 0.15)}
FOLLOW_UP = {"email": (1, 36), "web": (1, 36), "sms": (0.2, 12), "chat": (0.02, 0.1)}
CALL_NOTE = {"de": "Telefonat:", "en": "Call:"}
AUTO_CLOSE = timedelta(days=4)  # what tickets.tasks.close_solved does to solved tickets


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


def seed(conversations: int = 180, customer_count: int = 300) -> list[str]:
    """Fill an empty database; return the lines `helpdesk init --demo` prints."""
    rng = random.Random(42)
    now = utcnow()
    staff = _staff(now)
    lines = {kind: _channel(kind, staff, now) for kind in CHANNELS}
    people = _people(rng, now, customer_count)
    _orders(rng, people, now)
    db.session.commit()
    plans = [_plan(rng, people, now) for _ in range(conversations)]
    # In time order, as they happened: ticket numbers grow with time.
    player = _Player(rng, now, staff, lines)
    for plan in sorted(plans, key=lambda p: p.at):
        player.play(plan)
    _settle()
    db.session.commit()
    _service_levels()
    return _summary()


def _staff(now: datetime) -> Staff:
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
    for team in staff.teams:
        staff.leads.setdefault(team, admin)
    return staff


def rng_token() -> str:
    """A secret for the demo chat (not from the seeded generator: it must not be guessable)."""
    import secrets

    return secrets.token_urlsafe(32)


def _channel(kind: str, staff: Staff, now: datetime) -> tuple[int, str]:
    """A demo channel routed to its team; the mailbox stays inactive (it has no IMAP server)."""
    name, address, team = CHANNELS[kind]
    settings, secrets_ = {"demo": True}, {}
    if kind == "chat":  # try it at /chat/try: the helpdesk's own pages may always embed it
        settings.update(origins=[], greeting="Hi! Ask us anything about your order.",
                        offline_message="Nobody is online right now: leave your email "
                                        "address and we will answer by email.")
        secrets_ = {"identity_secret": rng_token()}
    row = Channel(kind=kind, name=name, address=address, team_id=staff.team_ids[team],
                  active=kind != "email", settings=settings, secrets=secrets_, state={},
                  created_at=now - timedelta(days=400))
    db.session.add(row)
    db.session.flush()
    return row.id, address


def _phone(rng: random.Random, region: str, used: set[str]) -> str | None:
    """A valid mobile number of ``region``, written the international way."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
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


def _people(rng: random.Random, now: datetime, count: int) -> list[Person]:
    """Organizations with their domains and key people, and private customers."""
    regions = list(COUNTRIES)
    weights = [COUNTRIES[r][4] for r in regions]
    orgs = []
    for company, region in COMPANIES:
        domain = f"{_ascii(company)}.example"
        orgs.append((Organization(name=f"{company} {COUNTRIES[region][3]}",
                                  created_at=now - timedelta(days=rng.randint(500, 1500)),
                                  domains=[OrganizationDomain(domain=domain)]), region, domain))
    db.session.add_all(org for org, _, _ in orgs)
    db.session.flush()
    rows: list[tuple[Customer, str]] = []
    emails: set[str] = set()
    phones: set[str] = set()
    with_key_person: set[int] = set()
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
            with_key_person.add(org.id)
        title = rng.choice(KEY_TITLES) if key else \
            (rng.choice(TITLES) if org is not None and rng.random() < 0.4 else None)
        tags = {"b2b"} if org is not None else set()
        tags.update(rng.sample(CUSTOMER_TAGS, rng.choice((0, 0, 1, 2))))
        # Rows built here, addresses normalised by the identity service: the generator keeps
        # them unique, and 300 create_customer calls (a check per address) cost seconds.
        since = now - timedelta(days=rng.randint(130, 900))
        identities = [Identity(kind="email", value=normalise("email", a), created_at=since)
                      for a in addresses]
        if phone:
            identities.append(Identity(kind="phone", value=normalise("phone", phone),
                                       created_at=since))
        rows.append((Customer(
            name=f"{first} {last}", identities=identities, title=title, key_person=key,
            organization_id=org.id if org is not None else None, language=language,
            preferred_channel=rng.choice(("email", "email", "email", "sms", "voice", "chat")),
            order_updates=rng.random() < 0.6, tags=sorted(tags), custom_fields={},
            created_at=since), region))
    db.session.add_all(customer for customer, _ in rows)
    db.session.flush()
    return [Person(c.id, c.name, c.values("email")[0], (c.values("phone") or [None])[0],
                   c.language, region, "vip" in c.tags) for c, region in rows]


def _orders(rng: random.Random, people: list[Person], now: datetime) -> None:
    """Purchases in every status, numbered in order of time, with lines and tracking."""
    statuses = list(ORDER_AGES)
    weights = [ORDER_AGES[s][2] for s in statuses]
    drafts = []
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
        lines = [OrderLine(sku=p[0], name=p[name], quantity=rng.choice((1, 1, 2, 3)),
                           unit_price=Decimal(p[3])) for p in products]
        order = Order(number=str(number), customer_id=person.id, status=status, lines=lines,
                      currency=COUNTRIES[person.region][2], ordered_at=ordered,
                      total=sum((line.unit_price * line.quantity for line in lines), Decimal(0)),
                      updated_at=min(now, ordered + timedelta(hours=rng.randint(1, 48))))
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


def _plan(rng: random.Random, people: list[Person], now: datetime) -> Plan:
    """Draw a conversation; regulars (the first 40 people) write more often."""
    # A quarter from the last three days (today's inbox), the rest over two months.
    age = rng.uniform(0, 3) if rng.random() < 0.25 else 60 * rng.random() ** 1.3
    at = now - timedelta(days=age)
    kind = rng.choices(list(KINDS), [k[3] for k in KINDS.values()])[0]
    crowd = people[:40] if rng.random() < 0.2 else people
    # People ask about what they bought in the month before, in a status that fits.
    fitting = [(person, order) for person in crowd for order in person.orders
               if order[1] in KINDS[kind][1] and at - timedelta(days=30) < order[4] < at]
    if fitting:
        person, order = rng.choice(fitting)
    else:
        person, order = rng.choice(crowd), None
        if KINDS[kind][1]:
            kind = rng.choice(("account", "product"))
    channel = rng.choices(("email", "sms", "voice", "chat", "web"), (35, 15, 15, 20, 15))[0]
    if channel in ("sms", "voice") and not person.phone:
        channel = "email"
    goal = rng.choices(("new", "open", "pending", "done"),
                       next(weights for limit, weights in GOALS if age < limit))[0]
    return Plan(at, person, channel, kind, order, goal,
                rng.choices(PRIORITIES, KINDS[kind][4])[0], [rng.random() for _ in range(11)])


class _Player:
    """Plays conversations: the customer's side through ingest, the agents' side as history."""

    def __init__(self, rng: random.Random, now: datetime, staff: Staff, lines: dict):
        self.rng, self.now, self.staff, self.lines = rng, now, staff, lines
        self.limit = now - timedelta(minutes=1)  # nothing happens in the future
        self.thread: list[str] = []  # Message-IDs of the mail conversation, for References
        self.call: tuple = (None, None)  # when the last call was answered and ended

    def play(self, plan: Plan) -> None:
        """One conversation, step by step, stopping where the present is reached."""
        rng, dice, lang, channel = self.rng, plan.dice, plan.person.language, plan.channel
        team, _, _, _, _, scripts = KINDS[plan.kind]
        agent = rng.choice(self.staff.teams[team])
        lead = self.staff.leads[team]
        number, _, product, tracking, _ = plan.order or (
            "", "", rng.choice(PRODUCTS)[1 if lang == "de" else 2], None, None)
        words = {"name": plan.person.name, "first": plan.person.name.split()[0],
                 "order": number, "product": product, "agent": self.staff.names[agent],
                 "tracking": f" ({tracking})" if tracking else ""}
        subject, first, follow, answer, closing, note = (s.format(**words) for s in scripts[lang])

        def say(text: str) -> str:
            """The agent's words as sent on this channel: a letter by mail, a line elsewhere."""
            if channel in ("email", "web"):
                body = text if lang == "de" else text[0].upper() + text[1:]
                return HI[lang].format(**words) + body + BYE[lang].format(**words)
            return text[0].upper() + text[1:]

        self.thread = []
        goal, at = plan.goal, plan.at
        if channel == "voice":
            at = min(at, self.now - timedelta(minutes=30))  # the call has ended by now
            ticket = self._call_in(plan, agent, at, missed=dice[0] < 0.25)
            if goal == "new" and self.call[0] is not None:
                goal = "open"  # an answered call has been handled by someone
        else:
            ticket = self._customer(plan, None, first, at, subject)
        if goal == "new":
            chase = at + timedelta(hours=2 + 40 * dice[2])
            if dice[1] < 0.3 and channel != "voice" and self._now(chase):
                at = chase
                ticket = self._customer(plan, ticket.id, CHASER[lang], at, subject)
            if dice[3] < 0.2 and self._now(at + timedelta(minutes=30)):
                at += timedelta(minutes=30)
                self._assign(ticket, agent, lead, at)
            return self._finish(ticket, plan, agent, at)

        # Triage: team, assignee, tags, priority (a call is triaged once it has ended).
        at = max(self._later(at, TRIAGE[channel], dice[3]),
                 self.call[1] if channel == "voice" else at)
        if not self._now(at):
            return self._finish(ticket, plan, agent, ticket.last_message_at)
        self._triage(ticket, plan, agent, lead, at)

        if channel == "voice":
            at = self._call_handled(ticket, plan, agent, note, at)
            if at is None:
                return self._finish(ticket, plan, agent, ticket.last_message_at)
        else:
            at = self._later(at, RESPONSE[channel], dice[5])
            if not self._now(at):
                return self._finish(ticket, plan, agent, ticket.last_message_at)
            self._answer(ticket, agent, say(answer), at)
            if dice[6] < 0.3 and self._now(at + timedelta(minutes=2)):
                self._note(ticket, agent, note, at + timedelta(minutes=2))
        if channel != "voice" and (goal == "open" or dice[7] < 0.55):
            if dice[8] < 0.6:
                self._status(ticket, "pending", agent, at, "waiting for customer")
            reply_at = self._later(at, FOLLOW_UP[channel], dice[9])
            if not self._now(reply_at):
                return self._finish(ticket, plan, agent, at)
            at = reply_at  # the customer answers; ingest reopens a pending ticket
            ticket = self._customer(plan, ticket.id, follow, at, subject)
            if goal == "open":
                return self._finish(ticket, plan, agent, at)
            at = self._later(at, RESPONSE[channel], dice[5])
            if not self._now(at):
                return self._finish(ticket, plan, agent, ticket.last_message_at)
            self._answer(ticket, agent, say(closing if goal == "done" else ASK[lang]), at)
        if goal == "pending" and ticket.status != "pending":
            self._status(ticket, "pending", agent, at, "waiting for customer")
        elif goal == "done" and self._now(at + timedelta(minutes=10)):
            at += timedelta(minutes=10)
            self._status(ticket, "solved", agent, at)
            if self._now(at + AUTO_CLOSE):
                self._status(ticket, "closed", None, at + AUTO_CLOSE, "solved for 4 days")
        return self._finish(ticket, plan, agent, at)

    def _triage(self, ticket: Ticket, plan: Plan, agent: int, lead: int, at: datetime) -> None:
        """The team lead routes the ticket; it gets its assignee, tags and priority."""
        team, _, tags, _, _, _ = KINDS[plan.kind]
        if ticket.team_id != self.staff.team_ids[team]:
            self._event(ticket, "team", {"from": ticket.team_id, "to": self.staff.team_ids[team]},
                        lead, at)
            ticket.team_id = self.staff.team_ids[team]
        if plan.dice[4] < 0.85:
            self._assign(ticket, agent, lead, at)
        wanted = sorted(set(ticket.tags) | set(tags) | ({"vip"} if plan.person.vip else set()))
        if wanted != ticket.tags:
            self._event(ticket, "tags", {"from": ticket.tags, "to": wanted}, agent, at)
            ticket.set_tags(wanted)
        if plan.priority != ticket.priority:
            self._event(ticket, "priority", {"from": ticket.priority, "to": plan.priority},
                        lead, at)
            ticket.priority = plan.priority

    def _now(self, at: datetime) -> bool:
        """Whether ``at`` is already in the past."""
        return at <= self.limit

    @staticmethod
    def _later(at: datetime, hours: tuple[float, float], die: float) -> datetime:
        """A moment between ``hours[0]`` and ``hours[1]`` hours after ``at``."""
        return at + timedelta(hours=hours[0] + (hours[1] - hours[0]) * die)

    def _hex(self, digits: int) -> str:
        """Random hex digits for provider ids (deterministic)."""
        return f"{self.rng.getrandbits(digits * 4):0{digits}x}"

    def _customer(self, plan: Plan, ticket_id: int | None, text: str, at: datetime,
                  subject: str) -> Ticket:
        """The customer writes: through the real ingest, as the channel adapter would."""
        person, channel = plan.person, plan.channel
        if channel in ("sms", "chat") and "\n\n" in text:  # a line, not a letter
            text = text.split("\n\n")[1]
            text = text[0].upper() + text[1:]
        fields = {"channel": channel, "received_at": at, "text": text}
        if channel in ("email", "web"):
            message_id = f"<{self._hex(16)}@{person.email.rpartition('@')[2]}>"
            prefix = "AW: " if person.language == "de" else "Re: "
            fields.update(sender_kind="email", sender=person.email, sender_name=person.name,
                          external_id=message_id, references=list(self.thread),
                          subject=subject if ticket_id is None else prefix + subject)
            if channel == "email":  # answers thread by References, as real mail does
                fields.update(recipient=self.lines["email"][1], channel_id=self.lines["email"][0])
            else:
                fields["ticket_number"] = ticket_id
            self.thread.append(message_id)
        else:
            # SMS and chat thread by a time window counted from the present; the past
            # conversations name their ticket instead.
            line = self.lines["phone" if channel == "sms" else "chat"]
            fields.update(channel_id=line[0], recipient=line[1], ticket_number=ticket_id)
            if channel == "sms":
                fields.update(sender_kind="phone", sender=person.phone,
                              external_id=f"SM{self._hex(32)}")
            else:
                fields.update(sender_kind="email", sender=person.email, sender_name=person.name,
                              external_id=f"chat-{self._hex(20)}")
        db.session.commit()  # the agents' side so far; ingest takes its own transaction
        result = ingest(InboundMessage(**fields))
        self._backdate(result.ticket.id, at)
        return result.ticket

    def _call_in(self, plan: Plan, agent: int, at: datetime, missed: bool) -> Ticket:
        """A call from the customer, filed by the call service (through ingest)."""
        duration = 0 if missed else self.rng.randint(40, 900)
        answered = None if missed else at + timedelta(seconds=self.rng.randint(4, 30))
        ended = (answered or at) + timedelta(seconds=duration or self.rng.randint(20, 45))
        call = Call(provider="demo", provider_id=f"CA{self._hex(32)}", direction="in",
                    from_number=plan.person.phone, to_number=self.lines["phone"][1],
                    status="no-answer" if missed else "completed", customer_id=plan.person.id,
                    agent_id=None if missed else agent, started_at=at, answered_at=answered,
                    ended_at=ended, duration=duration,
                    meta={"channel_id": self.lines["phone"][0], "caller_name": plan.person.name})
        db.session.add(call)
        db.session.commit()
        call_id = call.id
        calls.file_call(call_id)
        ticket_id = db.session.get(Call, call_id).ticket_id
        self._backdate(ticket_id, at)
        self.call = (answered, ended)
        return db.session.get(Ticket, ticket_id)

    def _call_handled(self, ticket: Ticket, plan: Plan, agent: int, note: str,
                      at: datetime) -> datetime | None:
        """The agent's side of a call: a call back if it was missed, then a note."""
        answered, ended = self.call
        why = "call answered"
        if answered is None:
            at = self._later(at, (0.1, 3), plan.dice[5])
            duration = self.rng.randint(60, 600)
            answered = at + timedelta(seconds=12)
            ended = answered + timedelta(seconds=duration)
            if not self._now(ended):
                return None
            db.session.add(Call(provider="demo", provider_id=f"CA{self._hex(32)}",
                                direction="out", from_number=self.lines["phone"][1],
                                to_number=plan.person.phone, status="completed",
                                customer_id=plan.person.id, ticket_id=ticket.id, agent_id=agent,
                                started_at=at, answered_at=answered, ended_at=ended,
                                duration=duration, meta={"channel_id": self.lines["phone"][0]}))
            why = "called back"
        if ticket.first_response_at is None:
            ticket.first_response_at = answered
        if ticket.status == "new":
            self._status(ticket, "open", agent, answered, why)
        at = max(at, ended)
        if self._now(at + timedelta(minutes=1)):
            self._note(ticket, agent, f"{CALL_NOTE[plan.person.language]} {note}",
                       at + timedelta(minutes=1))
        return at

    def _answer(self, ticket: Ticket, agent: int, text: str, at: datetime) -> None:
        """An agent's reply that went out back then (stored as sent; nothing is delivered now)."""
        channel = ticket.channel
        external = None
        if channel in ("email", "web"):
            external = f"<{self._hex(16)}@demo.helpdesk>"
            self.thread.append(external)
        elif channel == "sms":
            external = f"SM{self._hex(32)}"
        sender = self.lines["phone"][1] if channel == "sms" else \
            self.lines["email"][1] if channel in ("email", "web") else None
        db.session.add(Message(
            ticket_id=ticket.id, direction="out", channel=channel, author_kind="agent",
            author_id=agent, sender=sender, recipient=ticket.contact, body_text=text,
            subject=f"Re: {ticket.subject}" if channel in ("email", "web") else None,
            external_id=external, status="sent", created_at=at, sent_at=at, meta={}))
        self._counted(ticket, at)
        if ticket.first_response_at is None:
            ticket.first_response_at = at
        if ticket.status == "new":
            self._status(ticket, "open", agent, at, "replied")

    def _note(self, ticket: Ticket, agent: int, text: str, at: datetime) -> None:
        """An internal note on the ticket."""
        db.session.add(Message(ticket_id=ticket.id, direction="note", channel=ticket.channel,
                               author_kind="agent", author_id=agent, body_text=text,
                               status="received", created_at=at, meta={}))
        self._counted(ticket, at)

    @staticmethod
    def _counted(ticket: Ticket, at: datetime) -> None:
        """Keep the ticket's counters in step with a message written at ``at``."""
        ticket.message_count = (ticket.message_count or 0) + 1
        ticket.last_message_at = max(ticket.last_message_at, at)

    def _assign(self, ticket: Ticket, agent: int, lead: int, at: datetime) -> None:
        """The agent takes the ticket, or the team lead hands it over."""
        actor = agent if self.rng.random() < 0.5 else lead
        self._event(ticket, "assigned", {"from": ticket.assignee_id, "to": agent}, actor, at)
        ticket.assignee_id = agent

    def _status(self, ticket: Ticket, status: str, agent: int | None, at: datetime,
                why: str | None = None) -> None:
        """Move the ticket to ``status``, with its audit entry."""
        data = {"from": ticket.status, "to": status, **({"why": why} if why else {})}
        self._event(ticket, "status", data, agent, at)
        ticket.status = status
        if status == "solved":
            ticket.solved_at = at
        elif status != "closed":
            ticket.solved_at = None

    @staticmethod
    def _event(ticket: Ticket, kind: str, data: dict, agent: int | None, at: datetime) -> None:
        """An audit entry, dated when it happened."""
        event = events.record(ticket, kind, data, Actor(agent) if agent else None)
        event.created_at = at

    def _backdate(self, ticket_id: int, at: datetime) -> None:
        """Date what ingest just recorded (created, reopened) at the message's time."""
        db.session.execute(
            update(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                      TicketEvent.created_at >= self.now)
            .values(created_at=at).execution_options(synchronize_session=False))

    def _finish(self, ticket: Ticket, plan: Plan, agent: int, at: datetime) -> None:
        """Close the conversation's books: a customer note now and then, one commit."""
        if plan.dice[10] < 0.12:
            db.session.add(Note(customer_id=plan.person.id, author_id=agent,
                                body=self.rng.choice(CUSTOMER_NOTES[plan.person.language]),
                                created_at=min(at + timedelta(minutes=5), self.limit)))
        ticket.updated_at = max(ticket.last_message_at, at)
        db.session.commit()


OFFICE_HOURS = {"timezone": "Europe/Berlin",
                "hours": {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
                "holidays": ["2026-12-24", "2026-12-25", "2026-12-26", "2026-12-31", "2027-01-01"]}
SLA_POLICIES = [  # name, priority, first response, next response, resolution (business minutes)
    ("Standard", None, 240, 480, 3 * 600),
    ("High priority", "high", 60, 240, 600),
    ("Urgent", "urgent", 30, 60, 300),
]


def _service_levels() -> None:
    """Office hours for every team and three SLA policies; committing runs the queued
    re-computation of the open tickets' due times (in this process); then the SLA scan
    escalates the tickets whose due time has passed, as the scheduler would."""
    from . import unit_of_work
    from .tickets import sla, sla_policies

    for team in db.session.execute(select(Team)).scalars():
        sla_policies.set_calendar(team, OFFICE_HOURS)
    for name, priority, first, following, resolution in SLA_POLICIES:
        sla_policies.create({"name": name, "priority": priority, "first_response_minutes": first,
                             "next_response_minutes": following,
                             "resolution_minutes": resolution}, None)
    unit_of_work.commit()
    sla.scan()


def _settle() -> None:
    """Customers' last contact from their tickets (conversations overlap in time)."""
    last = select(func.max(Ticket.last_inbound_at)).where(
        Ticket.customer_id == Customer.id).scalar_subquery()
    db.session.execute(update(Customer).values(
        last_contact_at=last, updated_at=func.coalesce(last, Customer.created_at))
        .execution_options(synchronize_session=False))


def _summary() -> list[str]:
    """What was made, and how to log in."""
    def count(model) -> int:
        return db.session.scalar(select(func.count()).select_from(model))

    channels = dict(db.session.execute(select(Ticket.channel, func.count())
                                       .group_by(Ticket.channel)).all())
    lines = [f"demo data: {count(Team)} teams, {count(Agent)} agents, "
             f"{count(Organization)} organizations, {count(Customer)} customers, "
             f"{count(Order)} orders, {count(Ticket)} tickets ("
             + ", ".join(f"{channels.get(c, 0)} {c}" for c in ("email", "sms", "voice", "chat",
                                                                "web"))
             + f"), {count(Message)} messages, {count(Call)} calls",
             "log in at /login on the address `helpdesk serve` prints (make run: "
             "http://127.0.0.1:5000/login unless PORT or HOST are given) as"]
    lines += [f"  {email:<22} password {password:<13} {role} ({', '.join(teams)})"
              for email, _, role, teams, password in LOGINS]
    lines.append("API token for scripts: helpdesk token create EMAIL "
                 "(from a checkout: .venv/bin/helpdesk token create admin@demo.helpdesk)")
    return lines
