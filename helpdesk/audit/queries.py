"""Reading the audit log: the filters admins use (API and page), newest first, and the
before/after of an event as lines a person can read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import request
from sqlalchemy import Select, select

from helpdesk.agents.models import Agent
from helpdesk.audit.models import AuditEvent
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.web.args import int_arg

# The actions recorded today, offered in the page's filter (others may be typed).
KNOWN_ACTIONS = (
    "login",
    "login.failed",
    "logout",
    "customer.create",
    "customer.update",
    "customer.merge",
    "customer.merged_into",
    "customer.export",
    "customer.erase",
    "consent.update",
    "organization.update",
    "duplicate.dismiss",
    "agent.create",
    "agent.update",
    "agent.deactivate",
    "agent.password",
    "agent.invite",
    "agent.reset",
    "token.create",
    "token.revoke",
    "team.create",
    "team.update",
    "sla_policy.create",
    "sla_policy.update",
    "sla_policy.delete",
    "macro.create",
    "macro.update",
    "macro.delete",
    "channel.create",
    "channel.update",
    "channel.delete",
    "channel.rotate_secret",
    "retention.run",
)


@dataclass(frozen=True)
class Filters:
    """What the reader asked for; None: not filtered on that."""

    customer: int | None = None
    agent: int | None = None
    action: str | None = None
    object_type: str | None = None
    before: datetime | None = None
    after: datetime | None = None

    def args(self) -> dict[str, str]:
        """The filters as URL arguments (for the next page's link)."""
        out = {
            "customer": self.customer,
            "agent": self.agent,
            "action": self.action,
            "object_type": self.object_type,
            "before": self.before.isoformat() if self.before else None,
            "after": self.after.isoformat() if self.after else None,
        }
        return {k: str(v) for k, v in out.items() if v is not None}


def _text_arg(name: str, max_length: int) -> str | None:
    value = (request.args.get(name) or "").strip()
    if len(value) > max_length:
        raise Invalid(f"{name} is too long", fields={name: "too long"})
    return value or None


def _time_arg(name: str, end_of_day: bool) -> datetime | None:
    """An ISO date or date-time argument, as an aware UTC time (a date: its start, or for
    ``before`` the start of the next day, so ``before=2026-12-06`` includes that day)."""
    value = _text_arg(name, 40)
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if not 1900 <= day.year <= 9000:
                raise ValueError(value)
            at = datetime.combine(day, time.min, tzinfo=UTC)
            return at + timedelta(days=1) if end_of_day else at
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            f"{name} must be an ISO date or time", fields={name: "not an ISO date or time"}
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not 1900 <= parsed.year <= 9000:
        raise Invalid(f"{name} is out of range", fields={name: "out of range"})
    return parsed.astimezone(UTC)


def filters_from_request() -> Filters:
    """The filters of the query string, checked (a 422 naming a bad one)."""
    return Filters(
        customer=int_arg("customer"),
        agent=int_arg("agent"),
        action=_text_arg("action", 50),
        object_type=_text_arg("object_type", 30),
        before=_time_arg("before", end_of_day=True),
        after=_time_arg("after", end_of_day=False),
    )


def search(filters: Filters) -> Select[Any]:
    """The events matching ``filters``, newest first (each filter has its index:
    ``(customer_id, at)``, ``(agent_id, at)``, ``(action, at)``, ``at``)."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if filters.customer is not None:
        query = query.where(AuditEvent.customer_id == filters.customer)
    if filters.agent is not None:
        query = query.where(AuditEvent.agent_id == filters.agent)
    if filters.action is not None:
        query = query.where(AuditEvent.action == filters.action)
    if filters.object_type is not None:
        query = query.where(AuditEvent.object_type == filters.object_type)
    if filters.before is not None:
        query = query.where(AuditEvent.at < filters.before)
    if filters.after is not None:
        query = query.where(AuditEvent.at >= filters.after)
    return query


def agent_names(events: list[AuditEvent]) -> dict[int, str]:
    """The names of the agents who acted in ``events``, in one query."""
    ids = {e.agent_id for e in events if e.agent_id is not None}
    if not ids:
        return {}
    rows = db.session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(ids))).all()
    return {row.id: row.name for row in rows}


def event_json(event: AuditEvent, names: dict[int, str]) -> dict[str, Any]:
    """One event as the API answers it."""
    agent = None
    if event.agent_id is not None:
        agent = {"id": event.agent_id, "name": names.get(event.agent_id)}
    return {
        "id": event.id,
        "at": event.at.isoformat() if event.at else None,
        "agent": agent,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "customer_id": event.customer_id,
        "before": event.before,
        "after": event.after,
        "ip": event.ip,
    }


def _shown(value: Any) -> str:
    """A value as one short line."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``{"from": {"name": x}}`` -> ``{"from.name": x}``)."""
    if not isinstance(data, dict):
        return {prefix or "value": data} if data is not None else {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def diff_lines(event: AuditEvent) -> list[tuple[str, str, str]]:
    """``(field, before, after)`` for each field the event names, in order: changed
    fields show both sides, a field on one side only shows "—" on the other."""
    before, after = _flatten(event.before), _flatten(event.after)
    keys = list(dict.fromkeys([*before, *after]))
    return [(k, _shown(before.get(k)), _shown(after.get(k))) for k in keys]
