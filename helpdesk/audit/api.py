"""REST API v1 of the audit log: admins read it (others are refused, as on every admin-only
endpoint, with 403)."""

from __future__ import annotations

from flask import g, jsonify

from helpdesk.agents.auth import require_role
from helpdesk.audit import queries
from helpdesk.audit.schemas import AuditEventOut
from helpdesk.errors import error_response
from helpdesk.web.api import api_blueprint, paginate
from helpdesk.web.openapi import Param, documented, integer, text

bp = api_blueprint("audit_api", __name__)

FILTERS = [
    Param("customer", integer(), "Events about this customer (also after an erasure)"),
    Param("agent", integer(), "Events by this agent"),
    Param("action", text(50), 'One action, e.g. "customer.merge", "login.failed"'),
    Param("object_type", text(30), 'What was changed: "customer", "agent", "macro", ...'),
    Param("before", text(40), "Only events before this ISO date (that day included) or time"),
    Param("after", text(40), "Only events at or after this ISO date or time"),
]


@bp.get("/audit")
@require_role("admin")
@documented(AuditEventOut, paged=True, query=FILTERS)
def list_events():
    """The audit log, newest first, filtered (admins only; not an admin who sees only
    their own accounts: the log is about every customer)."""
    if g.agent.own_accounts_only:
        return error_response(403, "forbidden", "the audit log is about every customer")
    filters = queries.filters_from_request()
    page = paginate(queries.search(filters), lambda event: event)
    names = queries.agent_names(page["items"])
    page["items"] = [queries.event_json(event, names) for event in page["items"]]
    return jsonify(page)
