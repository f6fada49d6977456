"""Macros (canned replies): a text with placeholders, plus ticket changes, applied in one go.

A macro is personal (``owner_id``: only that agent sees and uses it) or belongs to a team
(``team_id``: the team's members see and use it; admins see every team's macros). Agents
make personal macros only; leads make team macros for their own teams, admins for any.
The owner edits a personal macro; a lead of the team (or an admin) edits a team macro.

The text is plain text with a fixed whitelist of placeholders (``PLACEHOLDERS``),
substituted by one regular-expression pass over ``{{ name }}`` with a dict: no template
engine, no attribute access, and substituted values are never scanned again, so a
customer called ``{{agent_name}}`` stays exactly that. An unknown placeholder is refused
when the macro is saved.
"""

from __future__ import annotations

import re

from sqlalchemy import or_, select

from helpdesk.agents.models import Agent, Team
from helpdesk.audit import services as audit
from helpdesk.automation.macros.models import Macro
from helpdesk.customers.models import Order
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.tickets import events, replies, services
from helpdesk.tickets.models import Message, Ticket

PLACEHOLDERS = ("customer_name", "ticket_number", "order_status", "agent_name")
# Anything between double braces is a placeholder; its inside must be a known name.
_ANY = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def check_template(text: str) -> None:
    """Refuse a body with a placeholder outside the whitelist (422 naming them)."""
    unknown = []
    for match in _ANY.finditer(text):
        inner = match.group(1).strip()
        if inner not in PLACEHOLDERS and match.group(0) not in unknown:
            unknown.append(match.group(0))
    if unknown:
        shown = ", ".join(u if len(u) <= 60 else u[:57] + "..." for u in unknown[:5])
        raise Invalid(
            f"unknown placeholder {shown}; allowed: "
            + ", ".join(f"{{{{{p}}}}}" for p in PLACEHOLDERS),
            fields={"body": f"unknown placeholder {shown}"},
        )


def render(text: str, values: dict[str, str]) -> str:
    """Substitute the whitelisted placeholders in one pass; anything else stays as written."""

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        return values[name] if name in PLACEHOLDERS and name in values else match.group(0)

    return _PLACEHOLDER.sub(substitute, text)


def values_for(ticket: Ticket, agent: Agent) -> dict[str, str]:
    """The placeholder values for ``ticket`` answered by ``agent`` (plain strings)."""
    customer = ticket.customer
    status = None
    if customer is not None:
        status = db.session.execute(
            select(Order.status)
            .where(Order.customer_id == customer.id)
            .order_by(Order.ordered_at.desc(), Order.id.desc())
            .limit(1)
        ).scalar()
    return {
        "customer_name": (customer.name or "") if customer is not None else "",
        "ticket_number": str(ticket.number),
        "order_status": status or "",
        "agent_name": agent.name or "",
    }


# --- who may do what -------------------------------------------------------------------


def usable_filter(agent: Agent):
    """A SQL condition selecting the macros ``agent`` may see and apply."""
    conditions = [Macro.owner_id == agent.id]
    if agent.is_admin:
        conditions.append(Macro.team_id.is_not(None))
    elif agent.team_ids:
        conditions.append(Macro.team_id.in_(agent.team_ids))
    return or_(*conditions)


def can_use(agent: Agent, macro: Macro) -> bool:
    """Whether ``agent`` may see and apply ``macro``."""
    if macro.owner_id is not None:
        return macro.owner_id == agent.id
    return agent.is_admin or macro.team_id in agent.team_ids


def can_edit(agent: Agent, macro: Macro) -> bool:
    """Whether ``agent`` may change or delete ``macro``."""
    if macro.owner_id is not None:
        return macro.owner_id == agent.id
    return agent.is_admin or (agent.role == "lead" and macro.team_id in agent.team_ids)


def usable(agent: Agent, macro_id: int) -> Macro:
    """The macro if ``agent`` may use it; otherwise 404 (never reveal it exists)."""
    macro = db.session.get(Macro, macro_id) if 0 < macro_id <= 2**31 - 1 else None
    if macro is None or not can_use(agent, macro):
        raise NotFound("no such macro")
    return macro


def visible(agent: Agent):
    """A select of the macros ``agent`` may use, by name."""
    return select(Macro).where(usable_filter(agent)).order_by(Macro.name, Macro.id)


# --- services (flush, never commit) -------------------------------------------------


def _audited(macro: Macro) -> dict:
    """A macro's settings as the audit log keeps them."""
    return {
        "name": macro.name,
        "body": macro.body,
        "team": macro.team_id,
        "owner": macro.owner_id,
        "actions": macro.actions,
    }


def _check_actions(actions: dict, actor: Agent) -> dict:
    """Validate the assignee of ``actions`` now, so a macro that can never work is refused."""
    actions = {k: v for k, v in actions.items() if v not in (None, [])}
    if "tags" in actions:
        actions["tags"] = sorted({t.strip().lower() for t in actions["tags"] if t.strip()})
    assignee = actions.get("assignee")
    if isinstance(assignee, int):
        agent = db.session.get(Agent, assignee)
        if agent is None or not agent.active:
            raise Invalid("no such agent", fields={"actions.assignee": "unknown id"})
        if actor.role == "agent" and assignee != actor.id:
            raise Forbidden('only leads and admins assign tickets to others; use "me"')
    return actions


def create(data: dict, actor: Agent) -> Macro:
    """A new personal macro, or a team macro (leads of that team and admins only)."""
    check_template(data["body"])
    team = None
    if data.get("team") is not None:
        team = db.session.get(Team, data["team"])
        if team is None:
            raise Invalid("no such team", fields={"team": "unknown id"})
        if actor.role == "agent":
            raise Forbidden("only leads and admins make team macros")
        if not actor.is_admin and team.id not in actor.team_ids:
            raise Forbidden("leads make macros for their own teams only")
    macro = Macro(
        name=data["name"],
        body=data["body"],
        owner_id=None if team is not None else actor.id,
        team_id=team.id if team is not None else None,
        actions=_check_actions(data.get("actions") or {}, actor),
        created_by_id=actor.id,
    )
    db.session.add(macro)
    db.session.flush()
    audit.record("macro.create", object_type="macro", object_id=macro.id, after=_audited(macro))
    return macro


def _editable(macro_id: int, actor: Agent) -> Macro:
    """The macro if ``actor`` may change it: 404 when they cannot even see it, else 403."""
    macro = usable(actor, macro_id)
    if not can_edit(actor, macro):
        raise Forbidden("only the team's leads and admins change team macros")
    return macro


def update(macro_id: int, changes: dict, actor: Agent) -> Macro:
    """Change the name, body or actions (the actions are replaced as a whole)."""
    macro = _editable(macro_id, actor)
    before = _audited(macro)
    if changes.get("name") is not None:
        macro.name = changes["name"]
    if changes.get("body") is not None:
        check_template(changes["body"])
        macro.body = changes["body"]
    if changes.get("actions") is not None:
        macro.actions = _check_actions(changes["actions"], actor)
    db.session.flush()
    old, new = audit.changes(before, _audited(macro))
    audit.record("macro.update", object_type="macro", object_id=macro.id, before=old, after=new)
    return macro


def delete(macro_id: int, actor: Agent) -> None:
    """Remove a macro."""
    macro = _editable(macro_id, actor)
    audit.record("macro.delete", object_type="macro", object_id=macro.id, before=_audited(macro))
    db.session.delete(macro)
    db.session.flush()


def apply(
    ticket: Ticket,
    macro: Macro,
    actor: Agent,
    send: bool = False,
    internal: bool = False,
    seen: int | None = None,
) -> tuple[str, Message | None]:
    """Render ``macro`` for ``ticket``, make its changes and, with ``send``, send the text.

    The reply goes first (so a macro that solves the ticket leaves it solved, not reopened
    by the answer); the changes go through ``services.update_ticket``: the same permission
    rules as PATCH /tickets/ID (an agent assigns only to themselves), audited, announced.
    """
    text = render(macro.body, values_for(ticket, actor))
    message = None
    if send:
        if not text.strip():
            raise Invalid("the macro's text is empty for this ticket", fields={"body": "empty"})
        message = replies.reply(ticket, text, actor, internal=internal, seen=seen)
    actions = macro.actions or {}
    changes: dict = {}
    for field in ("status", "priority"):
        if actions.get(field):
            changes[field] = actions[field]
    if actions.get("tags"):
        changes["tags"] = sorted(set(ticket.tags) | set(actions["tags"]))
    if actions.get("assignee") is not None:
        changes["assignee"] = actor.id if actions["assignee"] == "me" else actions["assignee"]
    if changes or send:
        events.record(
            ticket,
            "macro",
            {
                "macro": macro.id,
                "name": macro.name,
                "sent": send,
                "internal": bool(send and internal),
            },
            actor,
        )
    if changes:
        services.update_ticket(ticket, changes, actor)
    db.session.flush()
    return text, message


def macro_json(macro: Macro, viewer: Agent | None = None) -> dict:
    """A macro as the API shows it."""
    actions = macro.actions or {}
    data = {
        "id": macro.id,
        "name": macro.name,
        "body": macro.body,
        "scope": "team" if macro.team_id is not None else "personal",
        "owner": {"id": macro.owner.id, "name": macro.owner.name} if macro.owner else None,
        "team": {"id": macro.team.id, "name": macro.team.name} if macro.team else None,
        "actions": {
            "status": actions.get("status"),
            "priority": actions.get("priority"),
            "tags": list(actions.get("tags") or []),
            "assignee": actions.get("assignee"),
        },
        "created_at": macro.created_at.isoformat() if macro.created_at else None,
        "updated_at": macro.updated_at.isoformat() if macro.updated_at else None,
    }
    if viewer is not None:
        data["editable"] = can_edit(viewer, macro)
    return data
