"""The stored duplicate pairs (``duplicate_candidates``): the page and the API read them
instead of running the finder on every request.

``refresh`` runs the finder's four rules over every customer and brings the table in line
(new pairs inserted, pairs no longer found deleted, changed reasons updated) in
statements of ``BATCH`` rows. It runs as a job every ten minutes (workers/scheduler.py)
and after each commit that may change the pairs (``hooks``: customers created, renamed,
moved to another organization, merged or erased, identities changed): with Redis as one
RQ job however many commits asked for it meanwhile; without Redis at once, after the
commit, while the desk is small (``DUPLICATES_INLINE_UP_TO`` customers), else at the
next periodic run. A merged or erased customer's pairs go with the row (ON DELETE
CASCADE) at once.

``find`` reads a page of the pairs an agent may see (both customers visible, SQL),
dismissed pairs left out, the newest first (by the customers' ids, as the finder
orders them).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from helpdesk import jobs, unit_of_work
from helpdesk.agents import access
from helpdesk.customers.models import Customer
from helpdesk.db import utcnow
from helpdesk.duplicates import finder
from helpdesk.duplicates.models import DuplicateCandidate, DuplicateDismissal
from helpdesk.extensions import db

log = logging.getLogger(__name__)
BATCH = 500
JOB = "helpdesk.duplicates.candidates:run"
PENDING_KEY = "helpdesk:duplicates:refresh-pending"  # Redis: a refresh is queued
PENDING_SECONDS = 900  # a lost job's mark expires; the periodic run covers meanwhile
INLINE_UP_TO = 2000  # default of DUPLICATES_INLINE_UP_TO
TABLE: Any = DuplicateCandidate.__table__
Pair = finder.Pair


def _chunks(values: list, size: int = BATCH):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _existing_customers(ids: set[int]) -> set[int]:
    """Which of ``ids`` are still customers (one may go between the rules and the write)."""
    found: set[int] = set()
    for chunk in _chunks(sorted(ids)):
        found.update(db.session.scalars(select(Customer.id).where(Customer.id.in_(chunk))))
    return found


def _insert(rows: list[dict[str, Any]]):
    """INSERT, a pair another refresh stored meanwhile left as it is (either database)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(TABLE)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["customer_a_id", "customer_b_id"])
    )


def _stored() -> dict[Pair, tuple[int, list[str]]]:
    """The stored pairs: their row ids and reasons."""
    rows = db.session.execute(
        select(TABLE.c.id, TABLE.c.customer_a_id, TABLE.c.customer_b_id, TABLE.c.reasons)
    )
    return {(a, b): (row_id, reasons) for row_id, a, b, reasons in rows}


def refresh() -> dict[str, int]:
    """Run the four rules for everyone and bring the stored pairs in line with them
    (flush only; the caller commits). The rules and the stored pairs are read first; only
    if something differs is a write transaction begun (on SQLite the write lock is not
    held while the rules run, and a refresh that finds nothing new writes nothing).
    Returns how many pairs were found, added, removed and changed."""
    pairs = finder.found(None)
    stored = _stored()
    gone = [row_id for pair, (row_id, _) in stored.items() if pair not in pairs]
    changed = [
        {"id": stored[pair][0], "reasons": reasons}
        for pair, reasons in pairs.items()
        if pair in stored and stored[pair][1] != reasons
    ]
    new = sorted(pair for pair in pairs if pair not in stored)
    rows: list[dict[str, Any]] = []
    if gone or changed or new:
        with unit_of_work.write_phase():
            alive = _existing_customers({i for pair in new for i in pair})
            now = utcnow()
            rows = [
                {"customer_a_id": a, "customer_b_id": b, "reasons": pairs[(a, b)], "found_at": now}
                for a, b in new
                if a in alive and b in alive
            ]
            # A pair another refresh added meanwhile is left as it is (``_insert``).
            for chunk in _chunks(gone):
                db.session.execute(delete(TABLE).where(TABLE.c.id.in_(chunk)))
            for chunk in _chunks(changed):
                db.session.execute(update(DuplicateCandidate), chunk)
            for chunk in _chunks(rows):
                db.session.execute(_insert(chunk))
    return {"found": len(pairs), "added": len(rows), "removed": len(gone), "changed": len(changed)}


def run() -> None:
    """The job: refresh the stored pairs and commit."""
    connection = jobs.redis_connection()
    if connection is not None:  # commits from now on queue the next refresh
        connection.delete(PENDING_KEY)
    counts = refresh()
    unit_of_work.commit()
    log.info("duplicate candidates refreshed: %s", counts)


def _small_desk() -> bool:
    """Whether the pairs are refreshed in the request itself (no Redis)."""
    limit = current_app.config.get("DUPLICATES_INLINE_UP_TO", INLINE_UP_TO)
    customers = db.session.scalar(select(func.count()).select_from(Customer)) or 0
    return customers <= limit


def schedule() -> None:
    """After a commit that may change the pairs: a refresh, queued once however many
    commits ask (Redis), or run now on a small desk (without Redis)."""
    connection = jobs.redis_connection()
    if connection is not None:
        if connection.set(PENDING_KEY, "1", nx=True, ex=PENDING_SECONDS):
            jobs.submit(JOB)
        return
    if _small_desk():
        jobs.run_now(JOB)


def _visible(agent, query):
    """``query`` over the stored pairs: both customers visible to ``agent``, not
    dismissed."""
    dismissal = exists().where(
        and_(
            DuplicateDismissal.customer_a_id == DuplicateCandidate.customer_a_id,
            DuplicateDismissal.customer_b_id == DuplicateCandidate.customer_b_id,
        )
    )
    return query.where(
        access.customer_ids_filter(
            agent, DuplicateCandidate.customer_a_id, DuplicateCandidate.customer_b_id
        ),
        ~dismissal,
    )


def find(agent, offset: int = 0, limit: int | None = None) -> list[dict]:
    """The stored pairs ``agent`` may see, not dismissed: ``{"a", "b", "reasons"}`` with
    ``a < b``, the newest first; ``limit`` of them from ``offset`` (all without)."""
    query = _visible(
        agent,
        select(
            DuplicateCandidate.customer_a_id,
            DuplicateCandidate.customer_b_id,
            DuplicateCandidate.reasons,
        ),
    ).order_by(DuplicateCandidate.customer_b_id.desc(), DuplicateCandidate.customer_a_id.desc())
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [
        {"a": a, "b": b, "reasons": list(reasons)} for a, b, reasons in db.session.execute(query)
    ]


def count(agent) -> int:
    """How many stored pairs ``agent`` may see, not dismissed."""
    total = db.session.scalar(_visible(agent, select(func.count()).select_from(TABLE)))
    return int(total or 0)
