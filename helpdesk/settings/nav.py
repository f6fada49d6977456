"""The settings navigation: every section, and which of them an agent may open.

Admins see every section; a team lead sees what is theirs (their teams, SLA policies,
macros, their API tokens); an agent their personal macros, API tokens and profile. The
sections of other packages are listed by path: the page behind each belongs to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from helpdesk.agents.models import Agent

ADMIN, LEAD, AGENT = ("admin",), ("lead", "admin"), ("agent", "lead", "admin")


@dataclass(frozen=True)
class Section:
    """One settings section: its address, title, one line on what it holds, who opens it."""

    path: str
    title: object  # a lazy string, rendered in the request's language
    about: object
    roles: tuple[str, ...]
    not_for_account_managers: bool = False


SECTIONS = (
    Section("/settings/agents", _l("Agents"), _l("Invite, roles, teams, deactivate"), ADMIN),
    Section("/settings/teams", _l("Teams"), _l("Members, business hours, assignment"), LEAD),
    Section("/settings/mailboxes", _l("Mailboxes"), _l("Email addresses the desk reads"), ADMIN),
    Section("/settings/phone-numbers", _l("Phone numbers"), _l("SMS and calls by team"), ADMIN),
    Section("/settings/chat-widgets", _l("Chat widgets"), _l("Live chat on your websites"), ADMIN),
    Section("/settings/sla", _l("SLA policies"), _l("Response and resolution targets"), LEAD),
    Section("/settings/macros", _l("Macros"), _l("Canned replies, shared and personal"), AGENT),
    Section("/settings/fields", _l("Custom fields"), _l("Extra fields on records"), ADMIN),
    Section("/settings/tokens", _l("API tokens"), _l("Tokens for other programs"), AGENT),
    Section("/settings/audit", _l("Audit log"), _l("Who changed what, when"), ADMIN, True),
    Section("/profile", _l("Your profile"), _l("Language, time zone, password"), AGENT),
)


def sections(agent: Agent) -> list[Section]:
    """The sections ``agent`` may open, in order."""
    return [
        s
        for s in SECTIONS
        if agent.role in s.roles and not (s.not_for_account_managers and agent.own_accounts_only)
    ]


def may_open(agent: Agent, path: str) -> bool:
    """Whether ``agent`` may open the section at ``path``."""
    return any(s.path == path for s in sections(agent))
