"""The overview's percentiles (first response and resolution, median and 90th percentile,
and the first response median per agent), from histograms where they answer.

Writing: each first response and resolution is counted in ``reporting_durations`` per
UTC ten-day period ("dekad": days 1-10, 11-20, 21 to the month's end), team, agent (first
responses only) and bucket, by the transaction that writes its event (``rollups.write``:
one upsert per table, at the transaction's end).

Reading: a range's whole periods (as UTC instants: any time zone) are read from the
histograms, the days at its two ends that fill no whole period from the events, bucketed
the same way in SQL, all in one grouped statement; the percentiles are interpolated
between the two nearest ranks of the merged counts (as PostgreSQL's ``percentile_cont``).
So every duration counts as its bucket: to the nearest minute below an hour, to 10
minutes (their middle: within 5) below a day, to the hour (within 30 minutes) below a
week, to the day (within 12 hours) beyond. A range that holds no whole period (up to
about 20 days), a channel filter, a view or filter by agent and an account manager's
view read the exact values from the events, as before.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from math import ceil, floor
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors

from helpdesk.extensions import db
from helpdesk.reports.models import (
    TIMED,
    ReportingAgentPeriod,
    ReportingDuration,
    ReportingEvent,
)
from helpdesk.reports.scope import Scope, event_filter

H = ReportingDuration
E = ReportingEvent
A = ReportingAgentPeriod
TABLE: Any = ReportingDuration.__table__
AGENTS: Any = ReportingAgentPeriod.__table__
_KEY = ("kind", "period", "team_id", "agent_id", "bucket")
_AGENT_KEY = ("kind", "period", "team_id", "agent_id")
PER_AGENT = ("solved", "survey")  # the per-agent table's counts (and the ratings' sum)
KEPT = (*TIMED, "survey")  # the kinds ``add`` reads
MINUTE, HOUR, DAY, WEEK = 60, 3600, 86400, 7 * 86400


def bucket(seconds: int) -> int:
    """The bucket a duration counts in, as the seconds it stands for."""
    if seconds < HOUR:
        return (seconds + 30) // MINUTE * MINUTE
    if seconds < DAY:
        return seconds // 600 * 600 + 300
    if seconds < WEEK:
        return seconds // HOUR * HOUR + HOUR // 2
    return seconds // DAY * DAY + DAY // 2


def period_of(day: date) -> date:
    """The first day of the ten-day period a UTC date is in."""
    return day.replace(day=1 if day.day <= 10 else 11 if day.day <= 20 else 21)


def next_period(start: date) -> date:
    """The first day of the period after the one starting on ``start``."""
    if start.day < 21:
        return start + timedelta(days=10)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def whole_periods(since: datetime, until: datetime) -> tuple[date, date] | None:
    """The whole periods [first, stop) inside the instants [since, until); None if none."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    first = period_of(since.date())
    if _midnight(first) < since:
        first = next_period(first)
    stop = period_of(until.date())
    return (first, stop) if first < stop else None


# ----- writing -----


def changes(timed: list[tuple], on_sqlite: bool) -> list[tuple[Any, list[tuple]]]:
    """The histogram and per-agent rows (table, rows in key order: every column, in the
    table's order) that count (``sign`` 1) or take off (-1) these (kind, at, team_id,
    agent_id, value, sign): upserted by ``rollups.write``."""
    sums: dict[tuple, int] = defaultdict(int)
    agents: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for kind, at, team_id, agent_id, value, sign in timed:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        start = period_of(at.astimezone(UTC).date())
        # (SQLite: the text SQLAlchemy stores a Date as)
        period: Any = start.isoformat() if on_sqlite else start
        if kind in PER_AGENT and agent_id is not None:
            counts = agents[(kind, period, team_id or 0, agent_id)]
            counts[0] += sign
            counts[1] += sign * (value or 0)
        if kind not in TIMED or value is None:
            continue
        agent = (agent_id or 0) if kind == "first_response" else 0
        sums[(kind, period, team_id or 0, agent, bucket(value))] += sign
    found = []
    rows = [(*key, n) for key, n in sorted(sums.items()) if n]
    if rows:
        found.append((TABLE, rows))
    rows = [(*key, n, t) for key, (n, t) in sorted(agents.items()) if n or t]
    if rows:
        found.append((AGENTS, rows))
    return found


def _sql_bucket() -> Any:
    """``bucket`` of an event's value, in SQL."""
    value = E.value
    return case(
        (value < HOUR, (value + 30) // MINUTE * MINUTE),
        (value < DAY, value // 600 * 600 + 300),
        (value < WEEK, value // HOUR * HOUR + HOUR // 2),
        else_=value // DAY * DAY + DAY // 2,
    )


def _agent_key() -> Any:
    """The agent an event counts for in the histograms (first responses only; 0: none)."""
    return case((E.kind == "first_response", func.coalesce(E.agent_id, 0)), else_=0)


def rebuild(session: Session) -> None:
    """Recompute the histograms from the events (after a bulk load)."""
    if session.get_bind().dialect.name == "postgresql":
        utc = func.timezone("UTC", E.at)
        dom = cast(func.extract("day", utc), Integer)
        start = case((dom <= 10, 1), (dom <= 20, 11), else_=21)
        period: Any = func.make_date(
            cast(func.extract("year", utc), Integer),
            cast(func.extract("month", utc), Integer),
            start,
        )
    else:  # the text SQLAlchemy stores a SQLite DateTime (and Date) as
        dom_text = func.substr(E.at, 9, 2)
        start_text = case((dom_text <= "10", "01"), (dom_text <= "20", "11"), else_="21")
        period = func.substr(E.at, 1, 8).op("||")(start_text)
    team = func.coalesce(E.team_id, 0)
    agent, sql_bucket = _agent_key(), _sql_bucket()
    grouped = (
        select(E.kind, period, team, agent, sql_bucket, func.count())
        .where(E.kind.in_(TIMED), E.value.is_not(None))
        .group_by(E.kind, period, team, agent, sql_bucket)
    )
    session.execute(delete(H))
    session.execute(TABLE.insert().from_select([*_KEY, "count"], grouped))
    per_agent = (
        select(E.kind, period, team, E.agent_id, func.count(), func.coalesce(func.sum(E.value), 0))
        .where(E.kind.in_(PER_AGENT), E.agent_id.is_not(None))
        .group_by(E.kind, period, team, E.agent_id)
    )
    session.execute(delete(A))
    session.execute(AGENTS.insert().from_select([*_AGENT_KEY, "count", "total"], per_agent))


# ----- reading -----


def condition(scope: Scope) -> Any:
    """The histograms' version of the scope's filter; None when they cannot answer (a
    channel filter, a view or filter by agent, an account manager's customers)."""
    viewer = scope.viewer
    if not scope.rollups or viewer.own_accounts_only or scope.channel is not None:
        return None
    if scope.agent is not None or not (viewer.is_admin or viewer.role == "lead"):
        return None
    conditions: list[ColumnElement[bool]] = []
    if not viewer.is_admin:
        teams = viewer.team_ids
        conditions.append(H.team_id.in_(teams) if teams else false())
    if scope.team is not None:
        conditions.append(H.team_id == scope.team.id)
    return and_(true(), *conditions)


def percentile(counts: dict[float, int], share: float) -> float | None:
    """The ``share`` percentile of values given with their counts, interpolated between
    the two nearest ranks (``percentile_cont``); None for none."""
    total = sum(n for n in counts.values() if n > 0)
    if not total:
        return None
    position = (total - 1) * share
    low, high = floor(position), ceil(position)
    found: dict[int, float] = {}
    seen = 0
    for value in sorted(counts):
        n = counts[value]
        if n <= 0:
            continue
        for rank in (low, high):
            if rank not in found and rank < seen + n:
                found[rank] = value
        seen += n
        if high in found:
            break
    return found[low] + (found[high] - found[low]) * (position - low)


def from_histograms(scope: Scope) -> dict[str, dict[Any, Any]] | None:
    """``figures._durations`` from the histograms of the range's whole periods and the
    events at its ends; None when they cannot answer (then the events answer alone)."""
    where = condition(scope)
    periods = whole_periods(scope.since, scope.until)
    if where is None or periods is None:
        return None
    first, stop = periods
    whole = select(H.kind, H.agent_id, H.bucket, H.count.label("n")).where(
        H.kind.in_(TIMED), H.period >= first, H.period < stop, where
    )
    ends = _ends(scope, first, stop)
    agent, sql_bucket = _agent_key(), _sql_bucket()
    edges = (
        select(E.kind, agent, sql_bucket, func.count())
        .where(E.kind.in_(TIMED), ends, E.value.is_not(None), event_filter(scope))
        .group_by(E.kind, agent, sql_bucket)
    )
    both = union_all(whole, edges).subquery()
    values: dict[tuple[str, Any], Counter] = defaultdict(Counter)
    for kind, agent_id, seconds, count in db.session.execute(
        select(
            both.c.kind, both.c.agent_id, both.c.bucket, cast(func.sum(both.c.n), Integer)
        ).group_by(both.c.kind, both.c.agent_id, both.c.bucket)
    ):
        values[(kind, "all")][seconds] += int(count)
        if kind == "first_response" and agent_id:
            values[(kind, agent_id)][seconds] += int(count)
    found: dict[str, dict[Any, Any]] = {kind: {} for kind in TIMED}
    for (kind, key), counts in values.items():
        if key == "all":
            found[kind]["all"] = {
                "median": _minutes(percentile(counts, 0.5)),
                "p90": _minutes(percentile(counts, 0.9)),
            }
        else:
            median = percentile(counts, 0.5)
            if median is not None:
                found[kind][key] = _minutes(median)
    for kind in TIMED:
        found[kind].setdefault("all", {"median": None, "p90": None})
    return found


def per_agent(scope: Scope) -> list[tuple[int, str, int, int]] | None:
    """(agent, kind, count, sum of values) of the solved tickets and survey answers per
    agent: the whole periods from ``reporting_agent_periods``, the ends from the events;
    None when they cannot answer (as ``from_histograms``)."""
    where = condition(scope)
    periods = whole_periods(scope.since, scope.until)
    if where is None or periods is None:
        return None
    first, stop = periods
    where = _on_agents(where)
    whole = select(A.agent_id, A.kind, A.count.label("n"), A.total.label("t")).where(
        A.kind.in_(PER_AGENT), A.period >= first, A.period < stop, where
    )
    edges = (
        select(E.agent_id, E.kind, func.count(), func.coalesce(func.sum(E.value), 0))
        .where(
            E.kind.in_(PER_AGENT),
            _ends(scope, first, stop),
            E.agent_id.is_not(None),
            event_filter(scope),
        )
        .group_by(E.agent_id, E.kind)
    )
    both = union_all(whole, edges).subquery()
    return [
        (agent_id, kind, int(count), int(total))
        for agent_id, kind, count, total in db.session.execute(
            select(
                both.c.agent_id,
                both.c.kind,
                cast(func.sum(both.c.n), Integer),
                cast(func.sum(both.c.t), Integer),
            ).group_by(both.c.agent_id, both.c.kind)
        )
        if count
    ]


def _on_agents(where: ColumnElement[bool]) -> ColumnElement[bool]:
    """A condition on the histograms' columns, on ``reporting_agent_periods``' instead."""

    def swap(element: Any, **kw: Any) -> Any:
        if isinstance(element, Column) and element.table is TABLE:
            return AGENTS.c[element.name]
        return None

    return visitors.replacement_traverse(where, {}, swap)


def _ends(scope: Scope, first: date, stop: date) -> ColumnElement[bool]:
    """The events of the range outside its whole periods [first, stop)."""
    return or_(
        and_(E.at >= scope.since, E.at < _midnight(first)),
        and_(E.at >= _midnight(stop), E.at < scope.until),
    )


def _minutes(seconds: float | None) -> float | None:
    """Seconds as minutes, to a tenth (``figures.minutes``)."""
    return None if seconds is None else round(seconds / 60, 1)
