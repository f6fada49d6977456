"""Recording audit events: called by the service that makes the change, in its transaction."""

from __future__ import annotations

from typing import Any

from flask import g, has_app_context, has_request_context, request
from flask_login import current_user

from helpdesk.audit.models import AuditEvent
from helpdesk.extensions import db


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """The keys whose value differs, as (before, after) holding only those keys."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def _acting_agent_id() -> int | None:
    """The API's caller (``g.agent``, token or session) or the signed-in agent of a page."""
    if has_app_context() and getattr(g, "agent", None) is not None:
        return g.agent.id
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user.id
    return None


def record(
    action: str,
    *,
    object_type: str | None = None,
    object_id: int | None = None,
    customer_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    agent_id: int | None = None,
) -> AuditEvent:
    """Add one event to the session; it is stored with the caller's commit, or not at all.

    ``agent_id`` defaults to the signed-in agent of the request (None outside requests:
    the system, a CLI import, a job).
    """
    event = AuditEvent(
        action=action,
        object_type=object_type,
        object_id=object_id,
        customer_id=customer_id,
        before=before,
        after=after,
        agent_id=agent_id if agent_id is not None else _acting_agent_id(),
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event


def record_saved(
    object_type: str, object_id: int | None, before: dict | None, after: dict
) -> AuditEvent | None:
    """Record ``OBJECT_TYPE.create`` (``before`` None) or ``OBJECT_TYPE.update`` with the
    fields that changed (nothing when none did)."""
    if before is None:
        return record(
            f"{object_type}.create", object_type=object_type, object_id=object_id, after=after
        )
    old, new = changes(before, after)
    if not old and not new:
        return None
    return record(
        f"{object_type}.update", object_type=object_type, object_id=object_id, before=old, after=new
    )
