"""The satisfaction survey: asked once per solved ticket, on its channel, after a delay.

``send_due`` (every minute, ``workers/scheduler.py``) finds the tickets solved at least
``SURVEY_DELAY_MINUTES`` ago (the reporting events' ``solved``, on its index) that have
no survey yet, are still solved or closed and not tagged spam or merged, and asks: by
email a link to the public ``/survey/TOKEN`` page, by SMS "reply 1-5", which ``claim``
(hung on ingest) takes as the rating instead of a new ticket, and in chat a question
the widget draws rating buttons under (``surveys.chat``; a typed number counts too).
``answer`` stores the rating on the survey and the ticket (its JSON's ``csat``), as a
reporting event, and in the trail; a low rating with a comment notifies the team's
leads, live and by mail (after the commit).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import event, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from helpdesk import jobs, unit_of_work
from helpdesk.agents import access
from helpdesk.channels.inbound import InboundMessage
from helpdesk.customers.models import Customer
from helpdesk.db import iso, utcnow
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.reports import recording
from helpdesk.reports.models import ReportingEvent
from helpdesk.sla import notifications
from helpdesk.surveys.models import Survey, hash_token
from helpdesk.surveys.texts import language_of, texts
from helpdesk.tickets import events, replies
from helpdesk.tickets.models import Ticket

log = logging.getLogger(__name__)
SEND_JOB = "helpdesk.surveys.services:send_due"
THANK_JOB = "helpdesk.surveys.services:thank"
CHANNELS = ("email", "sms", "chat")
SKIP_TAGS = frozenset({"spam", "merged"})
LOOK_BACK = timedelta(days=2)  # solves older than the delay and this are never surveyed
LOW = 2  # a rating of 2 or less with a comment is a signal for the lead
MAX_COMMENT = 2000
BATCH = 200


def install() -> None:
    """Keep surveys with their tickets when customers merge (once per process)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)


def _before_flush(session: Session, flush_context: object, instances: object) -> None:
    """A customer deleted (merged away): their surveys follow their tickets."""
    for obj in list(session.deleted):
        if isinstance(obj, Customer):
            recording.follow_tickets(session, Survey.__table__, obj.id)


def send_due(now: datetime | None = None) -> int:
    """Ask the customers of the tickets solved long enough ago; how many were asked."""
    now = now or utcnow()
    delay = timedelta(minutes=current_app.config["SURVEY_DELAY_MINUTES"])
    with unit_of_work.writing():
        solved = (
            select(ReportingEvent.ticket_id)
            .where(
                ReportingEvent.kind == "solved",
                ReportingEvent.at <= now - delay,
                ReportingEvent.at > now - delay - LOOK_BACK,
                ReportingEvent.channel.in_(CHANNELS),
                ~exists().where(Survey.ticket_id == ReportingEvent.ticket_id),
            )
            .distinct()
            .limit(BATCH)
        )
        tickets = list(
            db.session.execute(
                select(Ticket)
                .where(Ticket.id.in_(solved), Ticket.status.in_(("solved", "closed")))
                .order_by(Ticket.id)
            )
            .unique()
            .scalars()
        )
        asked = sum(1 for ticket in tickets if ask(ticket, now) is not None)
        try:
            unit_of_work.commit()
        except IntegrityError:  # another scheduler asked the same ticket first
            db.session.rollback()
            return 0
    return asked


def link(token: str) -> str:
    """The public page's address for a token."""
    base = current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    return f"{base}/survey/{token}"


def ask(ticket: Ticket, now: datetime) -> Survey | None:
    """Ask the customer of a solved ticket, on its channel; flushes. None when the ticket
    is not to be surveyed (spam, merged, no address to ask on)."""
    if SKIP_TAGS & set(ticket.tags) or ticket.channel not in CHANNELS or not ticket.contact:
        return None
    token = secrets.token_urlsafe(32)
    customer = ticket.customer
    language = language_of(customer.language if customer is not None else None)
    survey = Survey(
        ticket=ticket,
        customer_id=ticket.customer_id,
        channel=ticket.channel,
        language=language,
        token_hash=hash_token(token),
        sent_at=now,
        expires_at=now + timedelta(days=current_app.config["SURVEY_EXPIRY_DAYS"]),
    )
    db.session.add(survey)
    db.session.flush()
    strings = texts(language)
    if ticket.channel == "email":
        name = customer.name if customer is not None else ""
        body = strings["email"].format(
            name=name, number=ticket.number, subject=ticket.subject, link=link(token)
        )
    else:
        # Chat: the widget draws rating buttons under the question (surveys.chat.prompt).
        body = strings[ticket.channel if ticket.channel == "chat" else "short"]
        body = body.format(number=ticket.number)
    meta = {"survey": survey.id, "ask": True}
    message = replies.automatic_reply(ticket, ticket.channel, body, meta)
    events.record(ticket, "survey_sent", {"channel": ticket.channel})
    jobs.enqueue(replies.DELIVER_JOB, message.id, queue_name="outbound", retries=3)
    return survey


def by_token(token: str) -> Survey:
    """The survey of a link's token, or NotFound."""
    if not token or len(token) > 100:
        raise NotFound("no such survey")
    survey = db.session.execute(
        select(Survey).where(Survey.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if survey is None:
        raise NotFound("no such survey")
    return survey


def answer(survey: Survey, rating: object, comment: str | None, now: datetime | None = None):
    """Store the customer's rating (1 to 5) and comment, once; flushes."""
    now = now or utcnow()
    try:
        value = int(str(rating).strip())
    except ValueError:
        value = 0
    if not 1 <= value <= 5:
        raise Invalid("rate from 1 to 5", fields={"rating": "a whole number from 1 to 5"})
    if survey.answered_at is not None:
        raise Conflict("this survey was answered already", code="answered")
    if survey.expires_at <= now:
        raise Conflict("this survey has closed", code="expired")
    text = (comment or "").strip()[:MAX_COMMENT] or None
    survey.rating, survey.comment, survey.answered_at = value, text, now
    ticket = survey.ticket
    ticket.csat = {"rating": value, "comment": text, "at": iso(now)}
    events.record(ticket, "survey", {"rating": value, "comment": text})
    agent = ticket.assignee_id or _solver(ticket)
    recording.add(db.session(), ticket, "survey", now, agent, value)
    db.session.flush()
    events.announce_ticket(ticket)
    if value <= LOW and text:
        leads = notifications.leads(ticket.team)
        summary = f"#{ticket.number} {ticket.subject}: rated {value} of 5: {text[:200]}"
        notifications.notify(leads, "low_rating", ticket, summary)
        _mail_leads(leads, ticket, summary)
    return survey


def _mail_leads(leads: list, ticket: Ticket, summary: str) -> None:
    """After the commit, mail each lead who may see the ticket about a low rating, through
    the notifications' outbound mail job (the ticket's mailbox)."""
    for lead in leads:
        if lead.own_accounts_only and not access.can_see_ticket(lead, ticket):
            continue
        jobs.enqueue(
            notifications.EMAIL_JOB,
            lead.id,
            "low_rating",
            [[ticket.id, summary]],
            queue_name="outbound",
            retries=3,
        )


def _solver(ticket: Ticket) -> int | None:
    """Who solved the ticket last (the rating is theirs when nobody is assigned)."""
    return db.session.execute(
        select(ReportingEvent.agent_id)
        .where(ReportingEvent.ticket_id == ticket.id, ReportingEvent.kind == "solved")
        .order_by(ReportingEvent.id.desc())
        .limit(1)
    ).scalar()


def claim(inbound: InboundMessage, customer: Customer) -> Ticket | None:
    """Ingest's claim: a customer's "1" to "5" by SMS or chat while their survey on that
    channel is open is the answer: stored on the survey's ticket, which stays solved."""
    text = (inbound.text or "").strip().rstrip(".!")
    if inbound.channel not in ("sms", "chat") or text not in ("1", "2", "3", "4", "5"):
        return None
    now = utcnow()
    survey = db.session.execute(
        select(Survey)
        .where(
            Survey.customer_id == customer.id,
            Survey.channel == inbound.channel,
            Survey.answered_at.is_(None),
            Survey.expires_at > now,
        )
        .order_by(Survey.sent_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if survey is None:
        return None
    answer(survey, text, None, now)
    jobs.enqueue(THANK_JOB, survey.id)  # after the commit: below the customer's answer
    return survey.ticket


def thank(survey_id: int) -> None:
    """Job: thank the customer who answered by SMS or chat, on that channel."""
    with unit_of_work.writing():
        survey = db.session.get(Survey, survey_id)
        if survey is None or survey.answered_at is None:
            db.session.rollback()
            return
        thanks = texts(survey.language)["thanks_short"]
        message = replies.automatic_reply(
            survey.ticket, survey.channel, thanks, {"survey": survey.id}
        )
        jobs.enqueue(replies.DELIVER_JOB, message.id, queue_name="outbound", retries=3)
        unit_of_work.commit()
