"""Notifications: stored with the change that causes them, announced after the commit.

``add`` keeps one row for an agent (only when they may see the ticket, never for what
they did themselves), emits a live ``notification`` to their personal room after the
commit and queues an email when they chose that kind by email. ``hooks.py`` calls it
from what a flush writes and from the SLA's notifications; the API and the bell read
and mark them here.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, func, or_, select, update

from helpdesk import jobs, realtime
from helpdesk.agents import access
from helpdesk.agents.models import Agent
from helpdesk.db import iso, utcnow
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.notifications.models import EMAIL_CHOICES, Notification, NotificationSettings
from helpdesk.tickets.models import Ticket

log = logging.getLogger(__name__)
EMAIL_JOB = "helpdesk.notifications.mail:send"
TEXT_LENGTH = 300
TITLES = {
    "assigned": _l("Assigned to you"),
    "mention": _l("You were mentioned"),
    "replied": _l("The customer replied"),
    "low_rating": _l("Low rating"),
    "sla_warning": _l("SLA due soon"),
    "escalated": _l("Escalated to you"),
}


def title(kind: str, language: str | None = None) -> str:
    """The headline of a kind of notification (in ``language`` when given)."""
    if language:
        with force_locale(language):
            return str(TITLES.get(kind, kind))
    return str(TITLES.get(kind, kind))


def add(
    agent: Agent | None,
    kind: str,
    ticket: Ticket,
    text: str,
    actor: Agent | None = None,
    live: bool = True,
    email: bool = True,
) -> Notification | None:
    """Tell ``agent`` about ``ticket`` (unless they did it, or may not see it): a row now,
    the live event (``live``) and the chosen email (``email``) after the commit."""
    if agent is None or not agent.active or (actor is not None and actor.id == agent.id):
        return None
    if not access.can_see_ticket(agent, ticket):
        return None
    text = " ".join(text.split())[:TEXT_LENGTH]
    row = Notification(agent_id=agent.id, kind=kind, ticket=ticket, text=text, created_at=utcnow())
    row.actor_id = actor.id if actor is not None else None
    db.session.add(row)
    if live:
        payload = {
            "kind": kind,
            # Their own language, else the desk's (their browser's is not known here).
            "title": title(kind, agent.language or current_app.config["DEFAULT_LANGUAGE"]),
            "text": text,
            "ticket": {"id": ticket.id, "number": ticket.number, "subject": ticket.subject},
        }
        realtime.emit_after_commit("notification", payload, [realtime.personal_room(agent)])
    if email and ticket.id is not None and kind in email_kinds(agent):
        jobs.enqueue(EMAIL_JOB, agent.id, kind, ticket.id, text, queue_name="outbound", retries=3)
    return row


def email_kinds(agent: Agent) -> list[str]:
    """The kinds ``agent`` also wants by email (none until they choose)."""
    settings = db.session.get(NotificationSettings, agent.id)
    return list(settings.email_kinds) if settings is not None else []


def set_email_kinds(agent: Agent, kinds: list[str]) -> list[str]:
    """Choose which kinds ``agent`` gets by email; flushes."""
    unknown = sorted(set(kinds) - set(EMAIL_CHOICES))
    if unknown:
        raise Invalid("unknown kind of notification", fields={"email": ", ".join(unknown)})
    chosen = [k for k in EMAIL_CHOICES if k in kinds]
    settings = db.session.get(NotificationSettings, agent.id)
    if settings is None:
        settings = NotificationSettings(agent_id=agent.id)
        db.session.add(settings)
    settings.email_kinds = chosen
    db.session.flush()
    return chosen


def _visible(agent: Agent) -> ColumnElement[bool]:
    """Notifications about tickets ``agent`` may see now (a ticket can change hands after
    it was told: an account manager's customer, a move to another team)."""
    return or_(
        Notification.ticket_id.is_(None),
        Notification.ticket_id.in_(select(Ticket.id).where(access.ticket_filter(agent))),
    )


def listed(agent: Agent, unread: bool = False) -> Select[Any]:
    """A select of ``agent``'s notifications, newest first (``unread``: those only)."""
    query = select(Notification).where(Notification.agent_id == agent.id, _visible(agent))
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return query.order_by(Notification.id.desc())


def unread_count(agent: Agent) -> int:
    """How many of ``agent``'s notifications are unread (ix_notifications_unread)."""
    return int(
        db.session.execute(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.agent_id == agent.id,
                Notification.read_at.is_(None),
                _visible(agent),
            )
        ).scalar_one()
    )


def mark_read(agent: Agent, ids: list[int] | None, now: datetime | None = None) -> int:
    """Mark ``agent``'s notifications ``ids`` (None: all) read; how many were unread.
    Ids of other agents' notifications (or about tickets they may no longer see) are left
    alone, as if they did not exist."""
    query = update(Notification).where(
        Notification.agent_id == agent.id, Notification.read_at.is_(None), _visible(agent)
    )
    if ids is not None:
        if not ids:
            return 0
        query = query.where(Notification.id.in_(ids))
    result = db.session.execute(
        query.values(read_at=now or utcnow()).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult


def notification_json(row: Notification) -> dict[str, Any]:
    """One notification as the API answers it."""
    ticket = row.ticket
    return {
        "id": row.id,
        "kind": row.kind,
        "title": title(row.kind),
        "text": row.text,
        "ticket": {"id": ticket.id, "number": ticket.number, "subject": ticket.subject}
        if ticket is not None
        else None,
        "actor": {"id": row.actor.id, "name": row.actor.name} if row.actor is not None else None,
        "read_at": iso(row.read_at) if row.read_at else None,
        "created_at": iso(row.created_at),
    }
