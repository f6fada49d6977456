"""Three months of the desk's past, so that a fresh demo's /reports shows real shapes: a
weekly rhythm (busy weekdays, quiet weekends), a backlog bump (five weeks ago a week of
slow solving), first responses and solves spread like a real team's, and survey answers,
a few of them low with a comment.

The tickets are written as the desk would have written them, with their audit trail and
the agents' replies, dated when they happened; the reporting events come from the same
flush listener as always (``reports.recording``), so they agree with the tickets. Every
ticket is solved (closed when older than four days): today's open work is the live
conversations' (``conversations.Player``)."""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from helpdesk.demo.people import Person, Staff
from helpdesk.extensions import db
from helpdesk.reports import recording
from helpdesk.surveys.models import Survey, hash_token
from helpdesk.tickets import events
from helpdesk.tickets.models import Message, Ticket

DAYS = 91
SUBJECTS = (
    "Where is my order?",
    "Wrong size delivered",
    "Invoice needed for my company",
    "Refund not received yet",
    "Parcel arrived damaged",
    "Change my delivery address",
    "Cannot log in to my account",
    "Voucher code does not work",
)
# (No phone calls: a voice ticket belongs with its call, which the live conversations make.)
CHANNEL_MIX = (("email", 55), ("chat", 27), ("sms", 18))
TEAM_OF = {"email": "Support", "sms": "Support", "chat": "Sales"}
LOW_COMMENTS = (
    "Took far too long, and I had to write three times.",
    "Nobody answered my actual question.",
    "The parcel is still missing.",
)


class Actor:
    """The agent who did something (events.record wants something with an id)."""

    def __init__(self, agent_id: int) -> None:
        self.id = agent_id


def play_history(rng: random.Random, now: datetime, staff: Staff, people: list[Person]) -> int:
    """Write the past tickets (before the live conversations' days); how many."""
    channels = [c for c, _ in CHANNEL_MIX]
    weights = [w for _, w in CHANNEL_MIX]
    bump = range(35, 42)  # days ago: a week of slow solving, the backlog grows
    made = 0
    for days_ago in range(DAYS, 1, -1):
        day = (now - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0, microsecond=0)
        weekend = day.weekday() >= 5
        for _ in range(rng.randint(1, 3) if weekend else rng.randint(5, 10)):
            hour = rng.choice((8, 9, 9, 10, 10, 11, 11, 12, 13, 14, 14, 15, 16, 17, 19, 21))
            created = day + timedelta(hours=hour, minutes=rng.randint(0, 59))
            channel = rng.choices(channels, weights)[0]
            slow = days_ago in bump
            _ticket(rng, staff, rng.choice(people), channel, created, slow, now)
            made += 1
        db.session.flush()
    db.session.commit()
    return made


def _ticket(rng, staff: Staff, person: Person, channel: str, created, slow: bool, now) -> None:
    """One past conversation: the customer's message, an agent's answer, solved, rated."""
    team = TEAM_OF[channel]
    agent = rng.choice(staff.teams[team])
    answered = created + timedelta(minutes=rng.lognormvariate(3.6 if not slow else 4.6, 0.8))
    solved = answered + timedelta(hours=rng.lognormvariate(1.5 if not slow else 3.8, 0.9))
    solved = min(solved, now - timedelta(hours=1))
    answered = min(answered, solved)
    contact = person.email if channel == "email" else (person.phone or person.email)
    ticket = Ticket(
        subject=rng.choice(SUBJECTS),
        status="new",
        priority=rng.choice(("normal", "normal", "normal", "high", "low")),
        channel=channel,
        contact=contact,
        customer_id=person.id,
        team_id=staff.team_ids[team],
        assignee_id=agent,
        created_at=created,
        updated_at=solved,
        last_message_at=answered,
        last_inbound_at=created,
        message_count=2,
        tag_rows=[],
        custom_fields={},
    )
    db.session.add(ticket)
    _event(events.record(ticket, "created", {"channel": channel}), created)
    ticket.messages = [
        Message(
            direction="in",
            channel=channel,
            author_kind="customer",
            sender=contact,
            body_text=ticket.subject + ".",
            status="received",
            created_at=created,
            meta={},
        ),
        Message(
            direction="out",
            channel=channel,
            author_kind="agent",
            author_id=agent,
            recipient=contact,
            body_text="Thank you, this is sorted now.",
            status="sent",
            created_at=answered,
            sent_at=answered,
            meta={},
        ),
    ]
    ticket.first_response_at = answered
    db.session.flush()  # the reply's events read first_response_at as the reply's time
    ticket.status = "closed" if solved < now - timedelta(days=4) else "solved"
    ticket.solved_at = solved
    _event(events.record(ticket, "status", {"from": "new", "to": "solved"}, Actor(agent)), solved)
    if channel in ("email", "sms", "chat") and rng.random() < 0.35:
        _survey(rng, ticket, person, agent, solved, slow)


def _event(entry, at) -> None:
    """Date an audit entry when it happened."""
    entry.created_at = at


def _survey(rng, ticket: Ticket, person: Person, agent: int, solved, slow: bool) -> None:
    """The customer answered the survey: mostly content, now and then not."""
    answered = solved + timedelta(hours=rng.uniform(1.5, 30))
    low = rng.random() < (0.3 if slow else 0.07)
    rating = rng.choice((1, 2)) if low else rng.choice((4, 4, 5, 5, 5, 3))
    comment = rng.choice(LOW_COMMENTS) if low else None
    db.session.add(
        Survey(
            ticket=ticket,
            customer_id=person.id,
            channel=ticket.channel,
            language="de" if person.language == "de" else "en",
            token_hash=hash_token(secrets.token_urlsafe(32)),
            sent_at=solved + timedelta(hours=1),
            expires_at=solved + timedelta(days=14),
            rating=rating,
            comment=comment,
            answered_at=answered,
        )
    )
    ticket.csat = {"rating": rating, "comment": comment, "at": answered.isoformat()}
    recording.add(db.session(), ticket, "survey", answered, agent, rating)
