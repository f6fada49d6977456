"""The email of a notification an agent chose to get by email: a job after the commit,
sent through the ticket's mailbox (the outbound mail path the SLA's emails take)."""

from __future__ import annotations

import logging
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from helpdesk import jobs
from helpdesk.agents.models import Agent
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.notifications.services import email_kinds, title
from helpdesk.tickets.models import Ticket

log = logging.getLogger(__name__)


def build(agent: Agent, ticket: Ticket, kind: str, text: str, sender: str) -> EmailMessage:
    """The notification mail to ``agent`` about ``ticket``, in the agent's language."""
    base = current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    language = agent.language or "en"
    mime = EmailMessage(policy=policy.SMTP)
    mime["From"] = formataddr(("helpdesk", sender))
    mime["To"] = formataddr((agent.name, agent.email))
    mime["Subject"] = f"{title(kind, language)}: #{ticket.number} {ticket.subject}"[:300]
    mime["X-Helpdesk-Ticket"] = str(ticket.number)
    mime["Date"] = format_datetime(utcnow())
    mime["Auto-Submitted"] = "auto-generated"  # never answered by a vacation responder
    with force_locale(language):
        footer = _(
            "Choose which notifications you get by email: %(url)s",
            url=f"{base}/profile/notifications",
        )
    mime.set_content(f"{text}\n{base}/tickets/{ticket.id}\n\n-- \n{footer}\n")
    return mime


def send(agent_id: int, kind: str, ticket_id: int, text: str) -> None:
    """Job: email a notification to an agent who still wants this kind by email."""
    from helpdesk.channels.base import DeliveryError
    from helpdesk.channels.email.adapter import smtp_send
    from helpdesk.channels.email.mailboxes import mailbox_for

    agent = db.session.get(Agent, agent_id)
    ticket = db.session.get(Ticket, ticket_id)
    if agent is None or not agent.active or ticket is None or kind not in email_kinds(agent):
        return
    mailbox = mailbox_for(ticket)
    if mailbox is None:
        log.warning("no mailbox to email a %s notification to agent %s", kind, agent_id)
        return
    mime = build(agent, ticket, kind, text, mailbox.address)
    try:
        smtp_send(mailbox, mime, agent.email)
    except DeliveryError as exc:
        if not exc.permanent and jobs.retries_left() > 0:
            raise  # RQ tries again later
        log.warning("could not email a %s notification to %s: %s", kind, agent.email, exc)
