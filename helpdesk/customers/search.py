"""Finding customers: the customer list's filter, from query arguments to SQL.

One parser (:func:`parse`, in ``finder/filters.py``) and one query builder
(:func:`select_customers`) serve the API list, the ``/customers`` page, the export,
segments and bulk actions, and every query goes through the access rule
(``agents.access.customer_filter``).

Filter keys (all combine with AND): ``q`` (full text, ``finder/fulltext.py``),
``email``, ``phone`` (exact identities), ``tag`` (repeatable: every one), ``organization``
(an id), ``account_manager`` (an agent id or ``me``: the customer's own or the
organization's, as the access rule reads it), ``language``, ``country``, ``consent``
(a purpose granted), ``has_open_tickets`` (``true``/``false``: among the tickets the agent may see),
``last_contact_before``, ``last_contact_after``, ``created_after`` (``YYYY-MM-DD``, an
ISO time, or ``Nd``: N days ago), ``field.KEY`` (equals, typed by the definition),
``ids`` (comma-separated), ``sort``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Executable,
    Select,
    cast,
    exists,
    func,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles

from helpdesk.agents import access
from helpdesk.customers.finder import fulltext
from helpdesk.customers.finder.filters import SORTS, CustomerFilter, parse
from helpdesk.customers.models import Consent, Customer, Identity, Organization
from helpdesk.extensions import db
from helpdesk.tickets.models import OPEN_STATUSES, Ticket

__all__ = ["SORTS", "CustomerFilter", "parse", "select_customers", "count", "page", "stream"]
TOTAL_CAP = 10_000  # the list counts its total exactly up to here
RANK_CANDIDATES = 2_000  # PostgreSQL ranks at most this many hits of a search


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def conditions(wanted: CustomerFilter, agent) -> list[ColumnElement[bool]]:
    """The SQL conditions of ``wanted`` (full text aside), the access rule first."""
    postgres = _dialect() == "postgresql"
    where: list[ColumnElement[bool]] = [access.customer_filter(agent)]
    for kind in ("email", "phone"):
        value = getattr(wanted, kind)
        if value:
            where.append(
                exists().where(
                    Identity.customer_id == Customer.id,
                    Identity.kind == kind,
                    Identity.value == value,
                )
            )
    for tag in wanted.tags:
        if postgres:
            where.append(cast(Customer.tags, JSONB).contains([tag]))
        else:
            each = func.json_each(Customer.tags).table_valued("value")
            where.append(exists().select_from(each).where(each.c.value == tag))
    if wanted.organization is not None:
        where.append(Customer.organization_id == wanted.organization)
    if wanted.account_manager is not None:
        manager = agent.id if wanted.account_manager == "me" else wanted.account_manager
        managed = select(Organization.id).where(Organization.account_manager_id == manager)
        # The same reading as the access rule (agents.access.customer_filter): the
        # customer's own manager, or the manager of the customer's organization.
        where.append(
            or_(Customer.account_manager_id == manager, Customer.organization_id.in_(managed))
        )
    if wanted.language:
        where.append(Customer.language == wanted.language)
    if wanted.country:
        where.append(Customer.country == wanted.country)
    if wanted.consent:
        where.append(
            exists().where(
                Consent.customer_id == Customer.id,
                Consent.purpose == wanted.consent,
                Consent.granted.is_(True),
            )
        )
    if wanted.has_open_tickets is not None:
        open_ticket = exists().where(
            Ticket.customer_id == Customer.id,
            Ticket.status.in_(OPEN_STATUSES),
            access.ticket_filter(agent, among_few=True),
        )
        where.append(open_ticket if wanted.has_open_tickets else not_(open_ticket))
    if wanted.last_contact_before:
        where.append(Customer.last_contact_at < wanted.last_contact_before)
    if wanted.last_contact_after:
        where.append(Customer.last_contact_at >= wanted.last_contact_after)
    if wanted.created_after:
        where.append(Customer.created_at >= wanted.created_after)
    for key, value in wanted.fields:
        if postgres:
            where.append(cast(Customer.custom_fields, JSONB).contains({key: value}))
        else:
            path = '$."' + key.replace('"', "") + '"'
            where.append(func.json_extract(Customer.custom_fields, path) == value)
    if wanted.ids:
        where.append(Customer.id.in_(wanted.ids))
    return where


_FREQUENT: dict[str, tuple[float, dict[str, float]]] = {}  # by database: (until, lexemes)
FREQUENT_FOR = 600.0  # seconds the statistics' common lexemes are kept


def frequent_lexemes() -> dict[str, float]:
    """PostgreSQL's most common lexemes of the search index (from ANALYZE) with the share
    of customers holding each, read at most every FREQUENT_FOR seconds: which words of a
    search narrow it too little to lead the index scan (``fulltext.match``)."""
    key = str(db.engine.url)
    cached = _FREQUENT.get(key)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    row = db.session.execute(
        text(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'customers' "
            "AND attname = 'search_vector'"
        )
    ).first()
    lexemes = dict(zip(row[0] or [], row[1] or [], strict=False)) if row else {}
    _FREQUENT[key] = (now + FREQUENT_FOR, lexemes)
    return lexemes


def _filtered(query: Select, wanted: CustomerFilter, agent) -> tuple[Select, fulltext.Match | None]:
    """``query`` (over customers) narrowed to ``wanted``; with the full-text match."""
    found = None
    if wanted.q:
        dialect = _dialect()
        frequent = frequent_lexemes() if dialect == "postgresql" else None
        found = fulltext.match(wanted.q, dialect, frequent)
    if found is not None:
        if found.join is not None:
            target, on = found.join
            query = query.join(target, on)
        query = query.where(found.condition)
    return query.where(*conditions(wanted, agent)), found


def _order(wanted: CustomerFilter, found: fulltext.Match | None) -> list:
    """ORDER BY: the sort asked for, else the rank of a search, else the newest first."""
    postgres = _dialect() == "postgresql"
    sort = wanted.sort or ("relevance" if found is not None else "-created_at")
    if sort == "relevance" and found is not None:
        return [found.rank, Customer.id.desc()]
    if sort in ("name", "-name"):
        name = Customer.name.asc() if sort == "name" else Customer.name.desc()
        return [name.nulls_last(), Customer.id]
    if sort in ("last_contact_at", "-last_contact_at"):
        last = Customer.last_contact_at
        if sort == "last_contact_at":
            return [last.asc().nulls_last() if postgres else last.asc(), Customer.id]
        return [last.desc().nulls_last() if postgres else last.desc(), Customer.id.desc()]
    if sort == "created_at":
        return [Customer.created_at, Customer.id]
    return [Customer.created_at.desc(), Customer.id.desc()]


def select_customers(wanted: CustomerFilter, agent) -> Select:
    """The customers ``agent`` may see that match ``wanted``, in the asked order.

    PostgreSQL ranks a search's hits one by one (``ts_rank`` reads each vector): past
    RANK_CANDIDATES hits only the first RANK_CANDIDATES found are ranked, so a word that
    half the customers share costs what a rarer one does (sort by another column to page
    through all of them)."""
    best = _best_hits(wanted, agent)
    if best is not None:
        return (
            select(Customer)
            .join(best, best.c.id == Customer.id)
            .order_by(best.c.rank, Customer.id.desc())
        )
    query, found = _filtered(select(Customer), wanted, agent)
    return query.order_by(*_order(wanted, found))


def _best_hits(wanted: CustomerFilter, agent):
    """PostgreSQL, a search ranked by relevance: the first RANK_CANDIDATES hits (``id``,
    ``rank``) and how many they are (``hits``, the same on every row: the exact total
    when under RANK_CANDIDATES, so the page needs no count). None otherwise."""
    if not wanted.q or (wanted.sort or "relevance") != "relevance" or _dialect() != "postgresql":
        return None
    found = fulltext.match(wanted.q, "postgresql", frequent_lexemes())
    # Rank inside the capped hits, so only the page's rows are read again.
    hits, _ = _filtered(select(Customer.id.label("id"), found.rank.label("rank")), wanted, agent)
    capped = hits.limit(RANK_CANDIDATES).subquery()
    return select(capped.c.id, capped.c.rank, func.count().over().label("hits")).subquery()


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) statement`` (PostgreSQL), its bound values kept."""

    inherit_cache = False

    def __init__(self, statement: Select) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _explain(element: _Explain, compiler, **kw) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def estimate(wanted: CustomerFilter, agent) -> int | None:
    """PostgreSQL's estimate of how many customers match (planning only, no rows read);
    None on SQLite, which has none."""
    if _dialect() != "postgresql":
        return None
    query, _ = _filtered(select(Customer.id), wanted, agent)
    plan = db.session.execute(_Explain(query)).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def count(wanted: CustomerFilter, agent, cap: int | None = None) -> int:
    """How many customers ``agent`` may see match ``wanted`` (``cap``: counted up to
    ``cap + 1`` at most, so a count over a huge selection stays cheap)."""
    if cap is None:
        query, _ = _filtered(select(func.count()).select_from(Customer), wanted, agent)
        return db.session.execute(query).scalar_one()
    hits, _ = _filtered(select(Customer.id), wanted, agent)
    limited = hits.limit(cap + 1).subquery()
    return db.session.execute(select(func.count()).select_from(limited)).scalar_one()


@dataclass(frozen=True)
class Page:
    """One page of the customer list."""

    customers: list[Customer]
    more: bool
    total: int  # exact up to TOTAL_CAP; past it an estimate (or TOTAL_CAP), ``exact`` False
    exact: bool


def page(wanted: CustomerFilter, agent, number: int, per_page: int) -> Page:
    """One page of the list: the customers, whether more follow, and the total (exact up
    to TOTAL_CAP; past that PostgreSQL's estimate, or on SQLite "10,000+")."""
    best = _best_hits(wanted, agent)
    hits = None
    if best is not None:  # a ranked search: its hits counted with the page
        # The page picked among the hits before the join: only its rows are read again.
        shown = (
            select(best)
            .order_by(best.c.rank, best.c.id.desc())
            .limit(per_page + 1)
            .offset((number - 1) * per_page)
            .subquery()
        )
        found = db.session.execute(
            select(Customer, shown.c.hits)
            .join(shown, shown.c.id == Customer.id)
            .order_by(shown.c.rank, Customer.id.desc())
        ).unique()
        rows, counted = [], []
        for customer, counted_hits in found:
            rows.append(customer)
            counted.append(counted_hits)
        hits = counted[0] if counted else None
    else:
        rows = list(
            db.session.execute(
                select_customers(wanted, agent).limit(per_page + 1).offset((number - 1) * per_page)
            )
            .unique()
            .scalars()
        )
    more = len(rows) > per_page
    if number == 1 and not more:
        return Page(list(rows), more, len(rows), True)
    if hits is not None and hits < RANK_CANDIDATES:  # every hit was ranked: the total
        return Page(list(rows[:per_page]), more, hits, True)
    # Counting a huge selection reads every row of it: past TOTAL_CAP by PostgreSQL's
    # estimate, answer the estimate; otherwise count, but never past TOTAL_CAP.
    guess = estimate(wanted, agent)
    if guess is not None and guess > TOTAL_CAP:
        return Page(list(rows[:per_page]), more, guess, False)
    total = count(wanted, agent, cap=TOTAL_CAP)
    return Page(list(rows[:per_page]), more, min(total, TOTAL_CAP), total <= TOTAL_CAP)


def batches(
    wanted: CustomerFilter, agent, *columns, size: int = 1000, join: tuple | None = None
) -> Iterator[list]:
    """Every matching customer as rows of ``columns`` (the first one ``Customer.id``), in
    id order, ``size`` at a time: keyset pages, never the whole list in memory.
    ``join``: a table and its condition, outer-joined for more columns."""
    last = 0
    query = select(*columns).select_from(Customer)
    if join is not None:
        query = query.outerjoin(*join)
    base, _ = _filtered(query, wanted, agent)
    while True:
        batch = list(
            db.session.execute(base.where(Customer.id > last).order_by(Customer.id).limit(size))
        )
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def stream(
    wanted: CustomerFilter, agent, *columns, size: int = 1000, joins: tuple = ()
) -> Iterator[list]:
    """Every matching customer as rows of ``columns``, in id order, ``size`` at a time,
    from one query read as it goes (PostgreSQL: a server-side cursor), so neither the
    list nor its repeated filtering is ever held: for reading only (the export).

    The statement is built now, while ``agent`` is loaded (a streamed response reads the
    rows after its request's session has ended)."""
    query = select(*columns).select_from(Customer)
    for target, on in joins:  # outer joins for more columns: (table, condition) each
        query = query.outerjoin(target, on)
    base, _ = _filtered(query, wanted, agent)
    statement = base.order_by(Customer.id).execution_options(yield_per=size)

    def read() -> Iterator[list]:
        # On the session's connection but past the ORM: plain rows, no per-row loading.
        for part in db.session.connection().execute(statement).partitions():
            yield list(part)

    return read()


def id_batches(wanted: CustomerFilter, agent, size: int = 1000) -> Iterator[list[int]]:
    """The ids of every matching customer, ``size`` at a time (see :func:`batches`)."""
    for batch in batches(wanted, agent, Customer.id, size=size):
        yield [row[0] for row in batch]
