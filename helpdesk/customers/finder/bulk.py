"""Bulk actions on customers: tag, untag, set the account manager, on chosen ids or on
everything a filter matches, in batches, audited once per action."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, select, update

from helpdesk.agents.models import Agent
from helpdesk.audit.services import record
from helpdesk.customers import search
from helpdesk.customers.models import Customer
from helpdesk.db import utcnow
from helpdesk.errors import Forbidden, Invalid
from helpdesk.extensions import db

ACTIONS = ("tag", "untag", "set_account_manager")
BATCH = 500
_table = cast(Table, Customer.__table__)


def _retag(batch: list[int], tag: str, add: bool) -> int:
    """Add or remove ``tag`` on these customers; answer how many changed."""
    changes = []
    for customer_id, tags in db.session.execute(
        select(Customer.id, Customer.tags).where(Customer.id.in_(batch))
    ):
        tags = list(tags or [])
        if add and tag not in tags:
            changes.append({"b_id": customer_id, "b_tags": sorted([*tags, tag])})
        elif not add and tag in tags:
            changes.append({"b_id": customer_id, "b_tags": [t for t in tags if t != tag]})
    if changes:
        db.session.execute(
            update(_table)
            .where(_table.c.id == bindparam("b_id"))
            .values(tags=bindparam("b_tags"), updated_at=utcnow()),
            changes,
        )
    return len(changes)


def run(
    action: str,
    wanted: search.CustomerFilter,
    agent: Agent,
    *,
    tag: str | None = None,
    account_manager: int | None = None,
    described: dict | None = None,
) -> int:
    """Apply ``action`` to every customer of ``wanted`` that ``agent`` may see; answer how
    many changed. Flushes; the caller commits (one transaction: all or nothing)."""
    if action not in ACTIONS:
        raise Invalid("unknown action", fields={"action": "one of " + ", ".join(ACTIONS)})
    if action in ("tag", "untag") and not tag:
        raise Invalid("name the tag", fields={"tag": "missing"})
    if action == "set_account_manager":
        if agent.role == "agent":
            raise Forbidden("only leads and admins set account managers")
        if account_manager is not None and db.session.get(Agent, account_manager) is None:
            raise Invalid("no such agent", fields={"account_manager": "unknown id"})
    db.session.flush()
    changed = 0
    for batch in search.id_batches(wanted, agent, size=BATCH):
        if action == "set_account_manager":
            result = db.session.execute(
                update(_table)
                .where(_table.c.id.in_(batch))
                .where(_table.c.account_manager_id.is_distinct_from(account_manager))
                .values(account_manager_id=account_manager, updated_at=utcnow())
            )
            changed += result.rowcount  # type: ignore[attr-defined]
        else:
            assert tag is not None
            changed += _retag(batch, tag, add=action == "tag")
    db.session.expire_all()  # loaded customers must not keep their old tags
    record(
        "customers.bulk",
        object_type="customer",
        after={
            "action": action,
            **(described or {}),
            **({"tag": tag} if tag else {}),
            **({"account_manager": account_manager} if action == "set_account_manager" else {}),
            "count": changed,
        },
    )
    db.session.flush()
    return changed
