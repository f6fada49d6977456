"""Finding customers: the customer list's filter, from query arguments to SQL.

One parser (:func:`parse`) and one query builder (:func:`select_customers`) serve the
API list, the ``/customers`` page, the export, segments and bulk actions, and every
query goes through the access rule (``agents.access.customer_filter``).

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

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, cast, exists, func, not_, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from helpdesk.agents import access
from helpdesk.customers.finder import fulltext
from helpdesk.customers.identities import InvalidIdentity, normalise
from helpdesk.customers.models import CONSENT_PURPOSES, Consent, Customer, Identity, Organization
from helpdesk.db import utcnow
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.fields import services as fields
from helpdesk.tickets.models import OPEN_STATUSES, Ticket
from helpdesk.web.args import MAX_ID

SORTS = ("name", "-name", "created_at", "-created_at", "last_contact_at", "-last_contact_at")
SINGLE = (
    "q",
    "email",
    "phone",
    "organization",
    "account_manager",
    "language",
    "country",
    "consent",
    "has_open_tickets",
    "last_contact_before",
    "last_contact_after",
    "created_after",
    "ids",
    "sort",
)
KEYS = (*SINGLE, "tag")  # and field.KEY
MAX_TAGS = 10
TOTAL_CAP = 10_000  # the list counts its total exactly up to here
RANK_CANDIDATES = 2_000  # PostgreSQL ranks at most this many hits of a search
MAX_IDS = 1000
_RELATIVE = re.compile(r"^(\d{1,5})d$")


@dataclass(frozen=True)
class CustomerFilter:
    """A parsed, checked filter of the customer list."""

    q: str | None = None
    email: str | None = None
    phone: str | None = None
    tags: tuple[str, ...] = ()
    organization: int | None = None
    account_manager: int | str | None = None  # an agent id, or "me"
    language: str | None = None
    country: str | None = None
    consent: str | None = None
    has_open_tickets: bool | None = None
    last_contact_before: datetime | None = None
    last_contact_after: datetime | None = None
    created_after: datetime | None = None
    fields: tuple[tuple[str, Any], ...] = ()
    ids: tuple[int, ...] = ()
    sort: str | None = None
    # The arguments as given (stripped, empty ones left out): for links and segments.
    given: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def args(self) -> dict[str, str | list[str]]:
        """The filter as query arguments (``tag`` a list when repeated)."""
        out: dict[str, str | list[str]] = {}
        for key, value in self.given:
            if key == "tag":
                tags = out.setdefault("tag", [])
                assert isinstance(tags, list)
                tags.append(value)
            else:
                out[key] = value
        return out

    def without_sort(self) -> dict[str, str | list[str]]:
        """The arguments without ``sort`` (a segment's filter, a sort link's base)."""
        return {k: v for k, v in self.args().items() if k != "sort"}


def _pairs(args: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, value) pairs of a MultiDict (request.args) or a dict of strings or lists."""
    getlist = getattr(args, "getlist", None)
    pairs: list[tuple[str, str]] = []
    for key in list(args.keys()):
        values = getlist(key) if getlist else args[key]
        if not isinstance(values, list):
            values = [values]
        for value in values:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise Invalid(f"{key} must be text", fields={key: "must be text"})
            pairs.append((key, str(value).strip()))
    return [(k, v) for k, v in pairs if v != ""]


def _bad(key: str, what: str) -> Invalid:
    return Invalid(f"{key}: {what}", fields={key: what})


def _time(key: str, value: str) -> datetime:
    """A date (start of that day, UTC), an ISO time, or ``Nd`` (N days ago)."""
    relative = _RELATIVE.match(value)
    if relative:
        return utcnow() - timedelta(days=int(relative.group(1)))
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(key, "not a date (YYYY-MM-DD), a time or Nd") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise _bad(key, "out of range") from None


def _id(key: str, value: str) -> int:
    if not value.isdigit() or len(value) > 10 or not 0 < int(value) <= MAX_ID:
        raise _bad(key, "not an id")
    return int(value)


def _single(key: str, value: str, values: dict[str, Any]) -> None:
    """Check one argument of SINGLE and put its typed value in ``values``."""
    if len(value) > 200 or (key in ("email", "phone") and len(value) > 320):
        raise _bad(key, "too long")
    if key == "q":
        values[key] = value
    elif key in ("email", "phone"):
        try:
            values[key] = normalise(key, value)
        except InvalidIdentity as exc:
            raise _bad(key, str(exc)) from exc
    elif key == "organization":
        values[key] = _id(key, value)
    elif key == "account_manager":
        values[key] = "me" if value == "me" else _id(key, value)
    elif key == "language":
        if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?", value):
            raise _bad(key, "not a language code")
        values[key] = value
    elif key == "country":
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise _bad(key, "not a two-letter country code")
        values[key] = value.upper()
    elif key == "consent":
        if value not in CONSENT_PURPOSES:
            raise _bad(key, "one of " + ", ".join(CONSENT_PURPOSES))
        values[key] = value
    elif key == "has_open_tickets":
        if value not in ("true", "false"):
            raise _bad(key, "true or false")
        values[key] = value == "true"
    elif key in ("last_contact_before", "last_contact_after", "created_after"):
        values[key] = _time(key, value)
    elif key == "ids":
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if len(parts) > MAX_IDS:
            raise _bad(key, f"at most {MAX_IDS} ids")
        values[key] = tuple(_id(key, p) for p in parts)
    elif key == "sort":
        if value not in (*SORTS, "relevance"):
            raise _bad(key, "one of relevance, " + ", ".join(SORTS))
        values[key] = value


def parse(args: Mapping[str, Any], strict: bool = False) -> CustomerFilter:
    """A CustomerFilter from query arguments (or a segment's filter); Invalid naming the
    argument otherwise. ``strict``: unknown keys are refused too (segments); the list
    leaves them to the caller (``page``, ``per_page``, ``format``...)."""
    values: dict[str, Any] = {}
    tags: list[str] = []
    custom: dict[str, Any] = {}
    given: list[tuple[str, str]] = []
    defined = None
    for key, value in _pairs(args):
        if key in SINGLE:
            if key in values:
                raise _bad(key, "given twice")
            _single(key, value, values)
        elif key == "tag":
            if len(value) > 50 or len(tags) >= MAX_TAGS:
                raise _bad(key, f"at most {MAX_TAGS} tags of 50 characters")
            tags.append(value)
        elif key.startswith("field."):
            defined = fields.definitions("customer") if defined is None else defined
            definition = defined.get(key[6:])
            if definition is None:
                raise _bad(key, "no such custom field")
            try:
                custom[definition.key] = fields.clean_value(definition, value)
            except ValueError as exc:
                raise _bad(key, str(exc)) from None
        elif strict:
            raise _bad(key, "not a filter of the customer list")
        else:
            continue
        given.append((key, value))
    return CustomerFilter(
        tags=tuple(tags),
        fields=tuple(custom.items()),
        given=tuple(given),
        **values,
    )


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


def _filtered(query: Select, wanted: CustomerFilter, agent) -> tuple[Select, fulltext.Match | None]:
    """``query`` (over customers) narrowed to ``wanted``; with the full-text match."""
    found = fulltext.match(wanted.q, _dialect()) if wanted.q else None
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
    query, found = _filtered(select(Customer), wanted, agent)
    ranked = found is not None and (wanted.sort or "relevance") == "relevance"
    if ranked and _dialect() == "postgresql":
        hits, _ = _filtered(select(Customer.id), wanted, agent)
        candidates = hits.limit(RANK_CANDIDATES).scalar_subquery()
        query = select(Customer).where(Customer.id.in_(candidates))
    return query.order_by(*_order(wanted, found))


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
    total: int  # exact up to TOTAL_CAP; past it TOTAL_CAP and ``exact`` False
    exact: bool


def page(wanted: CustomerFilter, agent, number: int, per_page: int) -> Page:
    """One page of the list: the customers, whether more follow, and the total (counted
    exactly up to TOTAL_CAP: past that the list says "10,000+")."""
    rows = (
        db.session.execute(
            select_customers(wanted, agent).limit(per_page + 1).offset((number - 1) * per_page)
        )
        .unique()
        .scalars()
        .all()
    )
    more = len(rows) > per_page
    total = count(wanted, agent, cap=TOTAL_CAP) if number > 1 or more else len(rows)
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
    wanted: CustomerFilter, agent, *columns, size: int = 1000, join: tuple | None = None
) -> Iterator[list]:
    """Every matching customer as rows of ``columns``, in id order, ``size`` at a time,
    from one query read as it goes (PostgreSQL: a server-side cursor), so neither the
    list nor its repeated filtering is ever held: for reading only (the export)."""
    query = select(*columns).select_from(Customer)
    if join is not None:
        query = query.outerjoin(*join)
    base, _ = _filtered(query, wanted, agent)
    result = db.session.execute(base.order_by(Customer.id).execution_options(yield_per=size))
    for part in result.partitions():
        yield list(part)


def id_batches(wanted: CustomerFilter, agent, size: int = 1000) -> Iterator[list[int]]:
    """The ids of every matching customer, ``size`` at a time (see :func:`batches`)."""
    for batch in batches(wanted, agent, Customer.id, size=size):
        yield [row[0] for row in batch]
