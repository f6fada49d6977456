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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from flask import current_app
from flask_babel import force_locale, lazy_gettext, ngettext
from sqlalchemy import select

from helpdesk import i18n, jobs, realtime
from helpdesk.agents import access
from helpdesk.agents.models import Agent
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket

log = logging.getLogger(__name__)
EMAIL_JOB = "helpdesk.sla.notifications:send_email"
EMAILED = ("escalated",)  # kinds that also go out by email
TITLES = {
    "escalated": lazy_gettext("Escalated to you"),
    "sla_warning": lazy_gettext("SLA due soon"),
    "low_rating": lazy_gettext("Low rating"),
}
_digest: ContextVar[dict | None] = ContextVar("notification_digest", default=None)
# Called with (recipients, kind, ticket, text, actor) inside the transaction of each
# notification (on_notify): the notifications package keeps them for the bell.
LISTENERS: list[Callable[[list[Agent], str, Ticket, str, Agent | None], None]] = []


def on_notify(listener: Callable[[list[Agent], str, Ticket, str, Agent | None], None]) -> None:
    """Call ``listener(recipients, kind, ticket, text, actor)`` with every notification."""
    if listener not in LISTENERS:
        LISTENERS.append(listener)


def leads(team) -> list[Agent]:
    """The active leads of a team, by id."""
    if team is None:
        return []
    return sorted((a for a in team.members if a.role == "lead" and a.active), key=lambda a: a.id)


def _english(text: object) -> str:
    """A title as the live event carries it (English; each page shows it in its own language)."""
    with force_locale("en"):
        return str(text)


def notify(agents, kind: str, ticket: Ticket, text: str, actor: Agent | None = None) -> None:
    """After the commit, tell each agent (but the actor) about ``ticket``, live and for
    emailed kinds by email (inside ``digest()``: one mail per agent for the whole block)."""
    recipients = {
        a.id: a
        for a in agents
        if a is not None
        and (actor is None or a.id != actor.id)
        # an account manager hears only of their own customers' tickets (agents.access)
        and (not a.own_accounts_only or access.can_see_ticket(a, ticket))
    }
    if not recipients:
        return
    for listener in LISTENERS:
        listener([recipients[i] for i in sorted(recipients)], kind, ticket, text, actor)
    payload = {
        "kind": kind,
        "title": _english(TITLES.get(kind, kind)),  # the page shows its own word (i18n.LABELS)
        "text": text,
        "ticket": {"id": ticket.id, "number": ticket.number, "subject": ticket.subject},
    }
    realtime.emit_after_commit(
        "notification", payload, [realtime.personal_room(recipients[i]) for i in sorted(recipients)]
    )
    if kind not in EMAILED:
        return
    collected = _digest.get()
    for agent_id in sorted(recipients):
        if collected is not None:
            collected.setdefault((agent_id, kind), []).append([ticket.id, text])
        else:
            jobs.enqueue(
                EMAIL_JOB, agent_id, kind, [[ticket.id, text]], queue_name="outbound", retries=3
            )


@contextmanager
def digest() -> Iterator[None]:
    """Gather the emails of the notifications made inside the block into one mail per agent
    and kind listing every ticket (the SLA scan escalating many tickets at once); queued
    at the end of the block, for after the commit, unless the block failed."""
    collected: dict[tuple[int, str], list] = {}
    token = _digest.set(collected)
    try:
        yield
    finally:
        _digest.reset(token)
    for (agent_id, kind), items in collected.items():
        jobs.enqueue(EMAIL_JOB, agent_id, kind, items, queue_name="outbound", retries=3)


def _link(ticket_id: int) -> str:
    """The conversation's address for the email (PUBLIC_URL, else the local default)."""
    base = current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    return f"{base}/tickets/{ticket_id}"


def build_email(
    agent: Agent, tickets: list[Ticket], kind: str, texts: list[str], sender: str
) -> EmailMessage:
    """The notification mail to an agent: one ticket, or a list of them."""
    mime = EmailMessage(policy=policy.SMTP)
    mime["From"] = formataddr(("helpdesk", sender))
    mime["To"] = formataddr((agent.name, agent.email))
    with force_locale(i18n.agent_language(agent)):  # the agent's language
        title = str(TITLES.get(kind, kind))
        many = ngettext("%(num)d ticket", "%(num)d tickets", len(tickets))
    if len(tickets) == 1:
        mime["Subject"] = f"{title}: #{tickets[0].number} {tickets[0].subject}"[:300]
        mime["X-Helpdesk-Ticket"] = str(tickets[0].number)
    else:
        mime["Subject"] = f"{title}: {many}"
    mime["Date"] = format_datetime(utcnow())
    mime["Auto-Submitted"] = "auto-generated"  # never answered by a vacation responder
    mime.set_content(
        "\n\n".join(
            f"{text}\n{_link(ticket.id)}" for ticket, text in zip(tickets, texts, strict=True)
        )
        + "\n"
    )
    return mime


def send_email(agent_id: int, kind: str, items: list) -> None:
    """Job: mail an agent about ``items`` ([ticket id, text] pairs) through the first
    ticket's mailbox."""
    from helpdesk.channels.base import DeliveryError
    from helpdesk.channels.email.adapter import smtp_send
    from helpdesk.channels.email.mailboxes import mailbox_for

    agent = db.session.get(Agent, agent_id)
    texts = dict((ticket_id, text) for ticket_id, text in items)
    tickets = list(
        db.session.execute(select(Ticket).where(Ticket.id.in_(texts)).order_by(Ticket.id))
        .unique()
        .scalars()
    )
    if agent is None or not agent.active or not tickets:
        return
    mailbox = mailbox_for(tickets[0])
    if mailbox is None:
        log.warning(
            "no mailbox to email %s notifications of %d tickets to agent %s",
            kind,
            len(tickets),
            agent_id,
        )
        return
    mime = build_email(agent, tickets, kind, [texts[t.id] for t in tickets], mailbox.address)
    try:
        smtp_send(mailbox, mime, agent.email)
    except DeliveryError as exc:
        if not exc.permanent and jobs.retries_left() > 0:
            raise  # RQ tries again later
        log.warning("could not email %s notifications to %s: %s", kind, agent.email, exc)
