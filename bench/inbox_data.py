"""The data of bench/inbox.py: agents in teams, tens of thousands of tickets, one busy customer.

    from bench.inbox_data import load
    facts = load(tickets=50_000, interactions=2_000, agents=200, messages=50)

Customers come from ``bench.common.load_customers``; tickets, messages, calls,
orders, notes and ticket events go in with Core ``insert()`` executemany in
batches. Agents and their API tokens are made through the app's own services
(``agents.services.create_agent``, ``ApiToken.issue``), as `helpdesk agent
create` and `helpdesk token create` make them.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import insert, text

from bench.common import after_bulk_load, email_of, load_customers, phone_of

TEAMS = ("Team 1", "Team 2", "Team 3", "Team 4")
CHANNELS = ("email", "sms", "voice", "chat")
PASSWORD = "bench password"  # of the two agents the pages are requested as
ADMIN_EMAIL, AGENT_EMAIL = "admin@bench.example", "agent@bench.example"
BUSY = 1  # the busy customer is bulk customer 1 (an email and a phone identity)
BATCH = 5_000
WORDS = (
    "order parcel delivery invoice refund account password login address payment "
    "tracking number week yesterday please could you check status arrived damaged "
    "replacement thanks again still waiting since monday colleague warehouse"
).split()


@dataclass
class Facts:
    """What the benchmark needs to address the data it loaded."""

    busy_customer: int = BUSY
    busy_ticket: int = 0
    busy_messages: int = 0
    interactions: dict = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    customers: int = 0
    tickets: int = 0
    messages: int = 0
    open_tickets: int = 0
    mine_open: int = 0
    seconds: float = 0.0


def sentence(rng: random.Random) -> str:
    """A sentence of plausible support words."""
    return " ".join(rng.choices(WORDS, k=rng.randint(6, 18))).capitalize() + "."


def body(rng: random.Random, channel: str) -> str:
    """The text of one message: a line on SMS and chat, a few paragraphs in email."""
    if channel in ("sms", "chat"):
        return " ".join(sentence(rng) for _ in range(rng.randint(1, 2)))
    return "\n\n".join(
        " ".join(sentence(rng) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(1, 4))
    )


def contact_of(n: int, channel: str) -> str:
    """Customer ``n``'s address on ``channel``."""
    if channel == "email":
        return email_of(n)
    return f"visitor-{n}" if channel == "chat" else phone_of(n)


def make_agents(count: int) -> tuple[dict, list[str], int, int]:
    """An admin and an agent of Team 1 to log in as, ``count`` agents spread over the
    teams with an API token each; return (team members by team id, tokens, admin id, agent id)."""
    from helpdesk.agents import services
    from helpdesk.agents.models import ApiToken
    from helpdesk.extensions import db

    for name in TEAMS:
        services.team_named(name)
    admin, _ = services.create_agent(ADMIN_EMAIL, "Bench Admin", "admin", [TEAMS[0]], PASSWORD)
    agent, _ = services.create_agent(AGENT_EMAIL, "Bench Agent", "agent", [TEAMS[0]], PASSWORD)
    db.session.commit()
    tokens = []
    for i in range(count):
        role = "lead" if i % 25 == 0 else "agent"
        member, _ = services.create_agent(
            f"agent{i}@bench.example", f"Agent {i}", role, [TEAMS[i % len(TEAMS)]], PASSWORD
        )
        member.presence = "online"
        row, clear = ApiToken.issue(member)
        db.session.add(row)
        tokens.append(clear)
        if i % 50 == 49:
            db.session.commit()
    db.session.commit()
    members: dict[int, list[int]] = {}
    for team_id, agent_id in db.session.execute(
        text("SELECT team_id, agent_id FROM team_members ORDER BY agent_id")
    ):
        members.setdefault(team_id, []).append(agent_id)
    return members, tokens, admin.id, agent.id


class Loader:
    """Ticket and message rows with explicit ids, inserted in batches."""

    def __init__(self, rng: random.Random, admin_id: int):
        self.rng, self.admin_id = rng, admin_id
        self.tickets: list[dict] = []
        self.messages: list[dict] = []
        self.next_ticket = self.next_message = 1
        self.counts = {"tickets": 0, "messages": 0, "open": 0}

    def ticket(
        self,
        customer: int,
        channel: str,
        status: str,
        team_id: int | None,
        assignee_id: int | None,
        created,
        messages: int,
        span: timedelta,
    ) -> int:
        """Add a ticket with ``messages`` messages spread over ``span`` from ``created``."""
        rng, ticket_id = self.rng, self.next_ticket
        self.next_ticket += 1
        contact = contact_of(customer, channel)
        step = span / max(1, messages)
        at, last_in, first_response = created, created, None
        for k in range(messages):
            at = created + step * k
            direction = (
                "in" if k == 0 or rng.random() < 0.5 else ("note" if rng.random() < 0.15 else "out")
            )
            agent = (assignee_id or self.admin_id) if direction != "in" else None
            if direction == "in":
                last_in = at
            elif direction == "out" and first_response is None:
                first_response = at
            text_ = body(rng, channel)
            self.messages.append(
                {
                    "id": self.next_message,
                    "ticket_id": ticket_id,
                    "direction": direction,
                    "channel": channel,
                    "author_kind": "customer" if direction == "in" else "agent",
                    "author_id": agent,
                    "sender": contact if direction == "in" else None,
                    "recipient": contact if direction == "out" else None,
                    "subject": f"Order {customer % 1000}" if channel == "email" else None,
                    "body_text": text_,
                    "body_html": ("<p>" + text_.replace("\n\n", "</p><p>") + "</p>")
                    if channel == "email" and direction != "note"
                    else None,
                    "external_id": f"bench-{self.next_message}" if direction != "note" else None,
                    "status": "received"
                    if direction == "in"
                    else "sent"
                    if direction == "out"
                    else "received",
                    "error": None,
                    "is_auto": False,
                    "needs_review": False,
                    "review_reason": None,
                    "meta": {},
                    "created_at": at,
                    "sent_at": at if direction == "out" else None,
                }
            )
            self.next_message += 1
        solved = at if status in ("solved", "closed") else None
        self.tickets.append(
            {
                "id": ticket_id,
                "subject": f"Order {customer % 1000}: " + sentence(rng)[:80],
                "status": status,
                "priority": rng.choice(("low", "normal", "normal", "normal", "high", "urgent")),
                "channel": channel,
                "channel_id": None,
                "contact": contact,
                "customer_id": customer,
                "assignee_id": assignee_id,
                "team_id": team_id,
                "created_at": created,
                "updated_at": at,
                "last_message_at": at,
                "last_inbound_at": last_in,
                "first_response_at": first_response,
                "solved_at": solved,
                "message_count": messages,
            }
        )
        self.counts["tickets"] += 1
        self.counts["messages"] += messages
        self.counts["open"] += status in ("new", "open", "pending")
        if len(self.messages) >= BATCH:
            self.flush()
        return ticket_id

    def flush(self) -> None:
        """Insert what is buffered (tickets first: messages refer to them)."""
        from helpdesk.extensions import db
        from helpdesk.tickets.models import Message, Ticket

        if self.tickets:
            db.session.execute(insert(Ticket), self.tickets)
        if self.messages:
            db.session.execute(insert(Message), self.messages)
        db.session.commit()
        self.tickets, self.messages = [], []


def status_of(rng: random.Random) -> str:
    """A third of all tickets are open (new, open, pending), the rest solved or closed."""
    roll = rng.random()
    return (
        "new"
        if roll < 0.10
        else "open"
        if roll < 0.25
        else "pending"
        if roll < 0.33
        else "solved"
        if roll < 0.70
        else "closed"
    )


def load(tickets: int, interactions: int, agents: int, messages: int, seed: int = 11) -> Facts:
    """Load everything inside the current app context; return what the benchmark needs."""
    from helpdesk.customers.models import Note, Order, OrderLine
    from helpdesk.db import utcnow
    from helpdesk.extensions import db
    from helpdesk.tickets.models import Call, TicketEvent

    started = time.perf_counter()
    rng = random.Random(seed)
    facts = Facts()
    facts.customers = max(1_000, tickets // 5)
    load_customers(facts.customers)
    members, facts.tokens, admin_id, agent_id = make_agents(agents)
    team_ids = [
        db.session.execute(text("SELECT id FROM teams WHERE name = :n"), {"n": n}).scalar_one()
        for n in TEAMS
    ]
    for team_id in team_ids:
        members.setdefault(team_id, [])
    now = utcnow()
    loader = Loader(rng, admin_id)

    # The busy customer: one open conversation of ``messages`` messages (the page measured),
    # then tickets with messages, calls, orders and notes making ``interactions`` in all.
    busy_created = now - timedelta(days=20)
    facts.busy_ticket = loader.ticket(
        BUSY,
        "email",
        "open",
        team_ids[0],
        agent_id,
        busy_created,
        messages,
        timedelta(days=19, hours=23),
    )
    rest = max(0, interactions - 1 - messages)
    calls, orders, notes = rest * 10 // 100, rest * 8 // 100, rest * 5 // 100
    spoken = rest - calls - orders - notes  # tickets and their messages, four a ticket
    busy_tickets = max(1, spoken // 5)
    busy_messages = spoken - busy_tickets
    voice_tickets = []
    for k in range(busy_tickets):
        channel = CHANNELS[k % len(CHANNELS)]
        share = busy_messages // busy_tickets + (k < busy_messages % busy_tickets)
        created = now - timedelta(days=730) * (1 - k / busy_tickets) - timedelta(days=21)
        team = team_ids[k % 2] if k % 3 else None
        status = "open" if k >= busy_tickets - 4 else rng.choice(("solved", "closed"))
        if status == "open":
            created = now - timedelta(days=rng.randint(1, 15))
        assignee = (
            rng.choice(members[team]) if team and rng.random() < 0.7 and members[team] else None
        )
        ticket_id = loader.ticket(
            BUSY,
            channel,
            status,
            team,
            assignee,
            created,
            share,
            timedelta(days=rng.randint(0, 6), hours=rng.randint(1, 20)),
        )
        if channel == "voice":
            voice_tickets.append((ticket_id, created, assignee))
    facts.busy_messages = messages
    facts.interactions = {
        "tickets": busy_tickets + 1,
        "messages": busy_messages + messages,
        "calls": calls,
        "orders": orders,
        "notes": notes,
    }

    # Everyone else's tickets: a third open, routed to the four teams (an eighth to none),
    # six in ten assigned to a member of the ticket's team; one to four messages each.
    weights = (45, 20, 15, 20)
    for _ in range(max(0, tickets - loader.counts["tickets"])):
        customer = rng.randint(2, facts.customers)
        channel = rng.choices(CHANNELS, weights)[0]
        team = rng.choice(team_ids) if rng.random() < 0.88 else None
        assignee = (
            rng.choice(members[team]) if team and rng.random() < 0.6 and members[team] else None
        )
        status = status_of(rng)
        created = now - timedelta(minutes=rng.randint(10, 120 * 24 * 60))
        span = timedelta(minutes=rng.randint(1, 3 * 24 * 60))
        if created + span > now:
            span = (now - created) / 2
        loader.ticket(
            customer,
            channel,
            status,
            team,
            assignee,
            created,
            rng.choice((1, 1, 2, 2, 2, 3, 3, 4)),
            span,
        )
    loader.flush()
    facts.tickets, facts.messages = loader.counts["tickets"], loader.counts["messages"]
    facts.open_tickets = loader.counts["open"]

    # The busy customer's calls (half on a voice ticket), orders with lines, notes; and an
    # audit trail on the measured conversation.
    first_order = db.session.execute(text("SELECT coalesce(max(id), 0) FROM orders")).scalar()
    call_rows = []
    for k in range(calls):
        at = now - timedelta(days=rng.randint(1, 700), minutes=rng.randint(0, 1440))
        ticket_id, agent = (None, rng.choice(members[team_ids[0]]))
        if voice_tickets and k % 2:
            ticket_id, at, agent = voice_tickets[k % len(voice_tickets)]
        answered = rng.random() < 0.8
        duration = rng.randint(30, 900) if answered else None
        call_rows.append(
            {
                "provider": "twilio",
                "provider_id": f"CAbench{k:08d}",
                "direction": "in" if k % 3 else "out",
                "from_number": phone_of(BUSY),
                "to_number": "+4930555000",
                "status": "completed" if answered else "no-answer",
                "customer_id": BUSY,
                "ticket_id": ticket_id,
                "agent_id": agent if answered else None,
                "started_at": at,
                "answered_at": at + timedelta(seconds=8) if answered else None,
                "ended_at": at + timedelta(seconds=8 + (duration or 20)),
                "duration": duration,
                "recording_url": None,
                "meta": {},
            }
        )
    if call_rows:
        db.session.execute(insert(Call), call_rows)
    order_rows, line_rows = [], []
    for k in range(orders):
        order_id = first_order + 1 + k
        order_rows.append(
            {
                "id": order_id,
                "number": f"BUSY{k:06d}",
                "customer_id": BUSY,
                "status": rng.choice(
                    ("delivered", "delivered", "shipped", "returned", "cancelled")
                ),
                "total": Decimal(rng.randint(500, 90_000)) / 100,
                "currency": "EUR",
                "carrier": "DHL",
                "tracking_number": f"JJD{order_id:012d}",
                "ordered_at": now - timedelta(days=rng.randint(1, 730)),
                "updated_at": now,
            }
        )
        line_rows += [
            {
                "order_id": order_id,
                "sku": f"SKU-{rng.randint(1, 997)}",
                "name": "Widget",
                "quantity": rng.randint(1, 3),
                "unit_price": Decimal("9.99"),
            }
            for _ in range(rng.randint(1, 3))
        ]
    if order_rows:
        db.session.execute(insert(Order), order_rows)
        db.session.execute(insert(OrderLine), line_rows)
    if notes:
        db.session.execute(
            insert(Note),
            [
                {
                    "customer_id": BUSY,
                    "author_id": rng.choice((admin_id, agent_id)),
                    "body": sentence(rng),
                    "created_at": now - timedelta(days=rng.randint(1, 700)),
                }
                for _ in range(notes)
            ],
        )
    db.session.execute(
        insert(TicketEvent),
        [
            {
                "ticket_id": facts.busy_ticket,
                "agent_id": agent,
                "kind": kind,
                "data": data,
                "created_at": busy_created + timedelta(hours=h),
            }
            for h, (kind, data, agent) in enumerate(
                [
                    ("created", {"channel": "email"}, None),
                    ("assigned", {"from": None, "to": agent_id}, admin_id),
                    ("status", {"from": "new", "to": "open"}, agent_id),
                    ("priority", {"from": "normal", "to": "high"}, agent_id),
                    ("tags", {"added": ["vip"]}, agent_id),
                ]
            )
        ],
    )
    db.session.commit()
    facts.mine_open = db.session.execute(
        text(
            "SELECT count(*) FROM tickets WHERE assignee_id = :a AND status IN "
            "('new', 'open', 'pending')"
        ),
        {"a": agent_id},
    ).scalar()
    db.session.commit()  # end the read transaction
    after_bulk_load("tickets", "messages", "orders", "calls", "notes", "ticket_events")
    facts.seconds = time.perf_counter() - started
    return facts
