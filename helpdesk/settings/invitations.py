"""Mailing set-password links: an invitation to a new agent, a reset to one who forgot.

The link goes out as the desk's other mail to agents does (sla/notifications.py, the
weekly report): a job on the ``outbound`` queue, after the commit, hands the message to
the SMTP server of a mailbox of the agent's team (else the first mailbox). Without any
mailbox nothing can be sent: the screen then shows the link once, for the admin to pass
on.
"""

from __future__ import annotations

import logging
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from flask import current_app, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from helpdesk import jobs
from helpdesk.agents import passwords
from helpdesk.agents.models import Agent
from helpdesk.channels.base import DeliveryError
from helpdesk.channels.email.adapter import smtp_send
from helpdesk.channels.email.mailboxes import mailboxes
from helpdesk.channels.models import Channel
from helpdesk.db import utcnow
from helpdesk.extensions import db

log = logging.getLogger(__name__)
SEND_JOB = "helpdesk.settings.invitations:send_link"


def mailbox_for(agent: Agent) -> Channel | None:
    """The mailbox an agent's link goes out through: their team's, else the first."""
    candidates = mailboxes()
    team_ids = agent.team_ids
    return next((m for m in candidates if m.team_id in team_ids), None) or (
        candidates[0] if candidates else None
    )


def link_for(clear: str) -> str:
    """The set-password page's address (``PUBLIC_URL`` when set, else this request's)."""
    path = url_for("password.set_password", token=clear)
    base = current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")
    return base + path


def send(agent: Agent, purpose: str) -> str | None:
    """Issue a link of ``purpose`` for ``agent`` and queue its mail for after the commit;
    answer the link when no mailbox can send it (to be shown once), else None."""
    _, clear = passwords.issue(agent, purpose)
    link = link_for(clear)
    if mailbox_for(agent) is None:
        log.warning("no mailbox to send agent %s their %s link", agent.id, purpose)
        return link
    jobs.enqueue(SEND_JOB, agent.id, purpose, link, queue_name="outbound", retries=3)
    return None


def build(agent: Agent, purpose: str, link: str, sender: str) -> EmailMessage:
    """The mail with the link, in the agent's language (else the desk's default)."""
    with force_locale(agent.language or current_app.config["DEFAULT_LANGUAGE"]):
        if purpose == "invite":
            subject = _("You are invited to the helpdesk")
            text = _(
                "Hello %(name)s,\n\nyou have an account on the helpdesk now (%(email)s). "
                "Choose your password here; the link works once, for 7 days:",
                name=agent.name,
                email=agent.email,
            )
        else:
            subject = _("Set a new helpdesk password")
            text = _(
                "Hello %(name)s,\n\nchoose a new password for %(email)s here; the link "
                "works once, for 24 hours:",
                name=agent.name,
                email=agent.email,
            )
        ignore = _("If you did not expect this mail, ignore it.")
    mime = EmailMessage(policy=policy.SMTP)
    mime["From"] = formataddr(("helpdesk", sender))
    mime["To"] = formataddr((agent.name, agent.email))
    mime["Subject"] = subject
    mime["Date"] = format_datetime(utcnow())
    mime["Auto-Submitted"] = "auto-generated"
    mime.set_content(f"{text}\n\n{link}\n\n{ignore}\n")
    return mime


def send_link(agent_id: int, purpose: str, link: str) -> None:
    """Job: mail an agent their set-password link."""
    agent = db.session.get(Agent, agent_id)
    if agent is None or not agent.active:
        return
    mailbox = mailbox_for(agent)
    if mailbox is None:
        log.warning("no mailbox to send agent %s their %s link", agent_id, purpose)
        return
    mime = build(agent, purpose, link, mailbox.address or "helpdesk@localhost")
    db.session.rollback()  # hold no transaction while the SMTP server answers
    try:
        smtp_send(mailbox, mime, agent.email)
    except DeliveryError as exc:
        if not exc.permanent and jobs.retries_left() > 0:
            raise
        log.error("the %s link to agent %s could not be sent: %s", purpose, agent_id, exc)
