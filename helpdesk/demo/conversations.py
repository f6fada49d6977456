"""Plays the demo's conversations: the customer's side through the real ingest, the
agents' side as history."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from helpdesk.channels.inbound import InboundMessage
from helpdesk.channels.phone import calls
from helpdesk.customers.models import Note
from helpdesk.demo.content import (
    ASK,
    AUTO_CLOSE,
    BYE,
    CALL_NOTE,
    CHASER,
    CUSTOMER_NOTES,
    FOLLOW_UP,
    HI,
    KINDS,
    PRODUCTS,
    RESPONSE,
    TRIAGE,
)
from helpdesk.demo.people import Actor, Plan, Staff
from helpdesk.extensions import db
from helpdesk.tickets import events
from helpdesk.tickets.ingest import ingest
from helpdesk.tickets.models import Call, Message, Ticket, TicketEvent


class Player:
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
            "",
            "",
            rng.choice(PRODUCTS)[1 if lang == "de" else 2],
            None,
            None,
        )
        words = {
            "name": plan.person.name,
            "first": plan.person.name.split()[0],
            "order": number,
            "product": product,
            "agent": self.staff.names[agent],
            "tracking": f" ({tracking})" if tracking else "",
        }
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
        at = max(
            self._later(at, TRIAGE[channel], dice[3]), self.call[1] if channel == "voice" else at
        )
        if not self._now(at):
            return self._finish(ticket, plan, agent, ticket.last_message_at)
        self._triage(ticket, plan, agent, lead, at)

        if channel == "voice":
            if (handled := self._call_handled(ticket, plan, agent, note, at)) is None:
                return self._finish(ticket, plan, agent, ticket.last_message_at)
            at = handled
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
            self._event(
                ticket, "team", {"from": ticket.team_id, "to": self.staff.team_ids[team]}, lead, at
            )
            ticket.team_id = self.staff.team_ids[team]
        if plan.dice[4] < 0.85:
            self._assign(ticket, agent, lead, at)
        wanted = sorted(set(ticket.tags) | set(tags) | ({"vip"} if plan.person.vip else set()))
        if wanted != ticket.tags:
            self._event(ticket, "tags", {"from": ticket.tags, "to": wanted}, agent, at)
            ticket.set_tags(wanted)
        if plan.priority != ticket.priority:
            self._event(
                ticket, "priority", {"from": ticket.priority, "to": plan.priority}, lead, at
            )
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

    def _customer(
        self, plan: Plan, ticket_id: int | None, text: str, at: datetime, subject: str
    ) -> Ticket:
        """The customer writes: through the real ingest, as the channel adapter would."""
        person, channel = plan.person, plan.channel
        if channel in ("sms", "chat") and "\n\n" in text:  # a line, not a letter
            text = text.split("\n\n")[1]
            text = text[0].upper() + text[1:]
        fields: dict[str, Any] = {"channel": channel, "received_at": at, "text": text}
        if channel in ("email", "web"):
            message_id = f"<{self._hex(16)}@{person.email.rpartition('@')[2]}>"
            prefix = "AW: " if person.language == "de" else "Re: "
            fields.update(
                sender_kind="email",
                sender=person.email,
                sender_name=person.name,
                external_id=message_id,
                references=list(self.thread),
                subject=subject if ticket_id is None else prefix + subject,
            )
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
                fields.update(
                    sender_kind="phone", sender=person.phone, external_id=f"SM{self._hex(32)}"
                )
            else:
                fields.update(
                    sender_kind="email",
                    sender=person.email,
                    sender_name=person.name,
                    external_id=f"chat-{self._hex(20)}",
                )
        db.session.commit()  # the agents' side so far; ingest takes its own transaction
        result = ingest(InboundMessage(**fields))
        self._backdate(result.ticket.id, at)
        return result.ticket

    def _call_in(self, plan: Plan, agent: int, at: datetime, missed: bool) -> Ticket:
        """A call from the customer, filed by the call service (through ingest)."""
        duration = 0 if missed else self.rng.randint(40, 900)
        answered = None if missed else at + timedelta(seconds=self.rng.randint(4, 30))
        ended = (answered or at) + timedelta(seconds=duration or self.rng.randint(20, 45))
        call = Call(
            provider="demo",
            provider_id=f"CA{self._hex(32)}",
            direction="in",
            from_number=plan.person.phone,
            to_number=self.lines["phone"][1],
            status="no-answer" if missed else "completed",
            customer_id=plan.person.id,
            agent_id=None if missed else agent,
            started_at=at,
            answered_at=answered,
            ended_at=ended,
            duration=duration,
            meta={"channel_id": self.lines["phone"][0], "caller_name": plan.person.name},
        )
        db.session.add(call)
        db.session.commit()
        call_id = call.id
        calls.file_call(call_id)
        ticket_id = db.session.get_one(Call, call_id).ticket_id  # committed just above
        self._backdate(ticket_id, at)
        self.call = (answered, ended)
        return db.session.get_one(Ticket, ticket_id)  # file_call filed the call on it

    def _call_handled(
        self, ticket: Ticket, plan: Plan, agent: int, note: str, at: datetime
    ) -> datetime | None:
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
            db.session.add(
                Call(
                    provider="demo",
                    provider_id=f"CA{self._hex(32)}",
                    direction="out",
                    from_number=self.lines["phone"][1],
                    to_number=plan.person.phone,
                    status="completed",
                    customer_id=plan.person.id,
                    ticket_id=ticket.id,
                    agent_id=agent,
                    started_at=at,
                    answered_at=answered,
                    ended_at=ended,
                    duration=duration,
                    meta={"channel_id": self.lines["phone"][0]},
                )
            )
            why = "called back"
        if ticket.first_response_at is None:
            ticket.first_response_at = answered
        if ticket.status == "new":
            self._status(ticket, "open", agent, answered, why)
        at = max(at, ended)
        if self._now(at + timedelta(minutes=1)):
            self._note(
                ticket,
                agent,
                f"{CALL_NOTE[plan.person.language]} {note}",
                at + timedelta(minutes=1),
            )
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
        sender = (
            self.lines["phone"][1]
            if channel == "sms"
            else self.lines["email"][1]
            if channel in ("email", "web")
            else None
        )
        db.session.add(
            Message(
                ticket_id=ticket.id,
                direction="out",
                channel=channel,
                author_kind="agent",
                author_id=agent,
                sender=sender,
                recipient=ticket.contact,
                body_text=text,
                subject=f"Re: {ticket.subject}" if channel in ("email", "web") else None,
                external_id=external,
                status="sent",
                created_at=at,
                sent_at=at,
                meta={},
            )
        )
        self._counted(ticket, at)
        if ticket.first_response_at is None:
            ticket.first_response_at = at
        if ticket.status == "new":
            self._status(ticket, "open", agent, at, "replied")

    def _note(self, ticket: Ticket, agent: int, text: str, at: datetime) -> None:
        """An internal note on the ticket."""
        db.session.add(
            Message(
                ticket_id=ticket.id,
                direction="note",
                channel=ticket.channel,
                author_kind="agent",
                author_id=agent,
                body_text=text,
                status="received",
                created_at=at,
                meta={},
            )
        )
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

    def _status(
        self, ticket: Ticket, status: str, agent: int | None, at: datetime, why: str | None = None
    ) -> None:
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

    def _backdate(self, ticket_id: int | None, at: datetime) -> None:
        """Date what ingest just recorded (created, reopened) at the message's time."""
        db.session.execute(
            update(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.created_at >= self.now)
            .values(created_at=at)
            .execution_options(synchronize_session=False)
        )

    def _finish(self, ticket: Ticket, plan: Plan, agent: int, at: datetime) -> None:
        """Close the conversation's books: a customer note now and then, one commit."""
        if plan.dice[10] < 0.12:
            db.session.add(
                Note(
                    customer_id=plan.person.id,
                    author_id=agent,
                    body=self.rng.choice(CUSTOMER_NOTES[plan.person.language]),
                    created_at=min(at + timedelta(minutes=5), self.limit),
                )
            )
        ticket.updated_at = max(ticket.last_message_at, at)
        db.session.commit()
