"""Telling particular agents about a ticket: live and by email.

Escalations and SLA warnings are addressed to people (the lead who gets the
ticket, the assignee whose due time is near), not to everyone who may see the
ticket. ``notify`` emits a ``notification`` event to each agent's own room on
``/agents`` after the commit (the agent UI shows it as a toast on any page) and,
for escalations, queues an email to the agent through the ticket's mailbox on the
``outbound`` queue. Without a mailbox the email is skipped and logged; the live
notification and the ticket's audit trail still hold it.
"""
from __future__ import annotations

import logging
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from flask import current_app

from .. import jobs, realtime
from ..agents.models import Agent
from ..extensions import db
from ..models_base import utcnow
from .models import Ticket

log = logging.getLogger(__name__)
EMAIL_JOB = "helpdesk.tickets.notifications:send_email"
EMAILED = ("escalated",)  # kinds that also go out by email
TITLES = {"escalated": "Escalated to you", "sla_warning": "SLA due soon"}


def leads(team) -> list[Agent]:
    """The active leads of a team, by id."""
    if team is None:
        return []
    return sorted((a for a in team.members if a.role == "lead" and a.active), key=lambda a: a.id)


def notify(agents, kind: str, ticket: Ticket, text: str, actor: Agent | None = None) -> None:
    """After the commit, tell each agent (but the actor) about ``ticket``, live and for
    emailed kinds by email."""
    recipients = {a.id: a for a in agents if a is not None and (actor is None or a.id != actor.id)}
    if not recipients:
        return
    payload = {"kind": kind, "title": TITLES.get(kind, kind), "text": text,
               "ticket": {"id": ticket.id, "number": ticket.number, "subject": ticket.subject}}
    realtime.emit_after_commit("notification", payload,
                               [f"agent:{agent_id}" for agent_id in sorted(recipients)])
    if kind in EMAILED:
        for agent_id in sorted(recipients):
            jobs.enqueue(EMAIL_JOB, agent_id, ticket.id, kind, text, queue_name="outbound",
                         retries=3)


def _link(ticket: Ticket) -> str:
    """The conversation's address for the email (PUBLIC_URL, else the local default)."""
    base = current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    return f"{base}/tickets/{ticket.id}"


def build_email(agent: Agent, ticket: Ticket, kind: str, text: str, sender: str) -> EmailMessage:
    """The notification mail to an agent."""
    mime = EmailMessage(policy=policy.SMTP)
    mime["From"] = formataddr(("helpdesk", sender))
    mime["To"] = formataddr((agent.name, agent.email))
    mime["Subject"] = f"{TITLES.get(kind, kind)}: #{ticket.number} {ticket.subject}"[:300]
    mime["Date"] = format_datetime(utcnow())
    mime["Auto-Submitted"] = "auto-generated"  # never answered by a vacation responder
    mime["X-Helpdesk-Ticket"] = str(ticket.number)
    mime.set_content(f"{text}\n\n{_link(ticket)}\n")
    return mime


def send_email(agent_id: int, ticket_id: int, kind: str, text: str) -> None:
    """Job: mail a notification to an agent through the ticket's mailbox."""
    from ..channels.base import DeliveryError
    from ..channels.email_send import smtp_send
    from ..channels.mailboxes import mailbox_for
    from .tasks import _retries_left

    agent, ticket = db.session.get(Agent, agent_id), db.session.get(Ticket, ticket_id)
    if agent is None or ticket is None or not agent.active:
        return
    mailbox = mailbox_for(ticket)
    if mailbox is None:
        log.warning("no mailbox to email %s notification of ticket %s to agent %s",
                    kind, ticket_id, agent_id)
        return
    try:
        smtp_send(mailbox, build_email(agent, ticket, kind, text, mailbox.address), agent.email)
    except DeliveryError as exc:
        if not exc.permanent and _retries_left() > 0:
            raise  # RQ tries again later
        log.warning("could not email the %s notification of ticket %s to %s: %s", kind,
                    ticket_id, agent.email, exc)
