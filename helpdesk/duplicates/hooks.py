"""When the stored duplicate pairs need a refresh. The customers core does not call this
module: ``duplicates.init_app`` hangs ``before_flush`` on the session (``install``), which
looks at what a flush writes: a customer created, deleted, renamed or moved to another
organization, an identity added, changed or removed, an organization deleted, or the
audit entry of a CRM write that may work around the ORM (a merge, an erasure, an import,
a bulk change). Then ``candidates.schedule`` runs once after that transaction commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from helpdesk import unit_of_work
from helpdesk.audit.models import AuditEvent
from helpdesk.customers.models import Customer, Identity, Organization
from helpdesk.duplicates import candidates

READY = unit_of_work.READY

# Audit actions of writes that may change the pairs.
ACTIONS = frozenset(
    {
        "customer.create",
        "customer.update",
        "customer.merge",
        "customer.erase",
        "customers.import",
        "customers.bulk",
        "organization.update",
    }
)
_WATCHED = {Customer: ("name", "organization_id"), Identity: ("kind", "value", "customer_id")}


def install() -> None:
    """Watch every flush of every session (once per process)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)


def _changed(obj: Any) -> bool:
    """Whether a dirty row changed a column the rules read."""
    attrs = inspect(obj).attrs
    return any(attrs[key].history.has_changes() for key in _WATCHED.get(type(obj), ()))


def _matters(session: Session) -> bool:
    """Whether this flush writes something that may change the pairs."""
    for obj in session.new:
        if isinstance(obj, (Customer, Identity)):
            return True
        if isinstance(obj, AuditEvent) and obj.action in ACTIONS:
            return True
    if any(isinstance(obj, (Customer, Identity, Organization)) for obj in session.deleted):
        return True
    return any(isinstance(obj, (Customer, Identity)) and _changed(obj) for obj in session.dirty)


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Queue one refresh after the commit of a transaction that changes the pairs."""
    info = session.info
    if any(candidates.schedule in info.get(key, ()) for key in (unit_of_work.PENDING, READY)):
        return  # one refresh, after this commit or an earlier one's, still to run
    if _matters(session):
        unit_of_work.after_commit(candidates.schedule)
