"""The weekly report mail: on Monday morning (07:00 in the reports' time zone) each lead
gets last week's headline numbers for their teams and a link to /reports. On by default
for leads; any agent turns it off or on for themselves (``PUT
/api/v1/reports/weekly-mail``). ``send_weekly`` runs hourly (``workers/scheduler.py``);
it marks the week before it enqueues the mails, so a lead never gets one week twice."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import select

from helpdesk import i18n, jobs, unit_of_work
from helpdesk.agents.models import Agent
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.reports import figures
from helpdesk.reports import scope as scopes
from helpdesk.reports.models import WeeklyMail

log = logging.getLogger(__name__)
MAIL_JOB = "helpdesk.reports.weekly:mail_report"
SEND_HOUR = 7


def wanted(agent: Agent, row: WeeklyMail | None) -> bool:
    """Whether ``agent`` gets the mail: their own choice, else whether they lead."""
    if row is not None and row.wanted is not None:
        return row.wanted
    return agent.role == "lead"


def setting(agent: Agent) -> bool:
    """The agent's current choice (or the default)."""
    return wanted(agent, db.session.get(WeeklyMail, agent.id))


def choose(agent: Agent, on: bool) -> bool:
    """Turn the weekly mail on or off for ``agent``; flushes."""
    row = db.session.get(WeeklyMail, agent.id)
    if row is None:
        row = WeeklyMail(agent_id=agent.id)
        db.session.add(row)
    row.wanted = on
    db.session.flush()
    return on


def send_weekly(now: datetime | None = None) -> int:
    """Job (hourly): from Monday 07:00 local, queue last week's mail to everyone who wants
    it and has not had it; how many were queued."""
    now = now or utcnow()
    zone = scopes.timezone(None)
    local = now.astimezone(zone)
    if local.weekday() != 0 or local.hour < SEND_HOUR:
        return 0
    year, number, _ = local.isocalendar()
    week = f"{year}-W{number:02d}"
    monday = local.date() - timedelta(days=7)
    with unit_of_work.writing():
        agents = db.session.execute(select(Agent).where(Agent.active.is_(True))).unique()
        rows = {r.agent_id: r for r in db.session.execute(select(WeeklyMail)).scalars()}
        queued = 0
        for agent in agents.scalars():
            row = rows.get(agent.id)
            if not wanted(agent, row) or (row is not None and row.last_week == week):
                continue
            if row is None:
                row = WeeklyMail(agent_id=agent.id)
                db.session.add(row)
            row.last_week = week
            jobs.enqueue(MAIL_JOB, agent.id, monday.isoformat(), queue_name="outbound")
            queued += 1
        unit_of_work.commit()
    return queued


def build(agent: Agent, monday: date, sender: str) -> EmailMessage:
    """The mail: the week's headline numbers for what the agent may see, and the link."""
    sunday = monday + timedelta(days=6)
    scope = scopes.build(agent, monday.isoformat(), sunday.isoformat())
    report = figures.overview(scope)
    base = current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    link = f"{base}/reports?from={monday.isoformat()}&to={sunday.isoformat()}"

    def value(number, unit: str = "") -> str:
        return "–" if number is None else f"{number}{unit}"

    compliance = report["sla"]["compliance"]
    share = None if compliance is None else round(compliance * 100, 1)
    first_response = value(report["first_response_minutes"]["median"], " min")
    with force_locale(i18n.agent_language(agent)):
        rows = [
            (_("Tickets created:"), report["created"]),
            (_("Tickets solved:"), report["solved"]),
            (_("Open at the end:"), report["backlog"]),
            (_("First response, median:"), first_response),
            (_("Resolution, median:"), value(report["resolution_minutes"]["median"], " min")),
            (_("SLA compliance:"), value(share, " %")),
            (
                _("Average rating:"),
                _(
                    "%(average)s (%(answers)s answers)",
                    average=value(report["csat"]["average"]),
                    answers=report["csat"]["responses"],
                ),
            ),
        ]
        lines = [
            _("Hello %(name)s,", name=agent.name),
            "",
            _(
                "last week (%(first)s – %(last)s) in numbers:",
                first=format_date(monday, "d MMM"),
                last=format_date(sunday, "d MMM yyyy"),
            ),
            "",
            *(f"  {label:<27}{number}" for label, number in rows),
            "",
            _("The whole report, with charts: %(link)s", link=link),
            "",
            _(
                "You get this mail every Monday; turn it off on the reports page "
                "(“Email me last week's numbers every Monday”)."
            ),
        ]
        subject = _(
            "Your week in numbers: %(created)s created, %(solved)s solved",
            created=report["created"],
            solved=report["solved"],
        )
    mime = EmailMessage(policy=policy.SMTP)
    mime["From"] = formataddr(("helpdesk", sender))
    mime["To"] = formataddr((agent.name, agent.email))
    mime["Subject"] = subject
    mime["Date"] = format_datetime(utcnow())
    mime["Auto-Submitted"] = "auto-generated"
    mime.set_content("\n".join(lines) + "\n")
    return mime


def mail_report(agent_id: int, monday: str) -> None:
    """Job: build and send one agent's weekly mail through a mailbox of their team."""
    from helpdesk.channels.base import DeliveryError
    from helpdesk.channels.email.adapter import smtp_send
    from helpdesk.channels.email.mailboxes import mailboxes

    agent = db.session.get(Agent, agent_id)
    if agent is None or not agent.active:
        return
    candidates = mailboxes()
    mailbox = next((m for m in candidates if m.team_id in agent.team_ids), None)
    mailbox = mailbox or (candidates[0] if candidates else None)
    if mailbox is None:
        log.warning("no mailbox to send the weekly report to agent %s", agent_id)
        return
    mime = build(agent, date.fromisoformat(monday), mailbox.address)
    db.session.rollback()
    try:
        smtp_send(mailbox, mime, agent.email)
    except DeliveryError as exc:
        if not exc.permanent and jobs.retries_left() > 0:
            raise
        log.error("the weekly report to agent %s could not be sent: %s", agent_id, exc)
