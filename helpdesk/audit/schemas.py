"""JSON shapes of the audit log (for the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from helpdesk.web.openapi import Ref, Shape


class AuditEventOut(Shape):
    """One audited event: who, when, what, before and after."""

    id: int
    at: str
    agent: Ref | None
    action: str
    object_type: str | None
    object_id: int | None
    customer_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str | None
