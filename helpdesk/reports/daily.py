"""Reading the rollups per UTC day, with the hours where they do not fit.

A report's local day in a whole-hour time zone is a UTC day shifted by the zone's offset.
So counts per local day are the daily rollups of the whole UTC days in the range, each
laid onto the local date holding its noon, corrected by the few hours of that UTC day
that fall on another local date (the "edge" hours: taken off the noon's date, added to
their own), plus the hourly rollups of the partial UTC days at the range's two ends.
Offsets and daylight-saving changes are looked up per hour here, so it is exact wherever
the hourly rollups are (``rollups.whole_hours``). A quarter in Berlin reads ~90 daily
rows and ~180 hours per key instead of ~2,200 hours; sums over the range (SLA, survey)
read no edge hours at all.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Column, ColumnElement, Date, and_, cast, false, func, or_, select
from sqlalchemy.sql import visitors

from helpdesk.extensions import db
from helpdesk.reports.rollups import DAILY, TABLE, epoch_hour, hour_of, local_hour
from helpdesk.reports.scope import Scope

R = TABLE.c
D = DAILY.c
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def on_daily(where: ColumnElement[bool]) -> ColumnElement[bool]:
    """A condition on the hourly rollups' columns, on the daily rollups' instead."""

    def swap(element: Any, **kw: Any) -> Any:
        if isinstance(element, Column) and element.table is TABLE:
            return D[element.name]
        return None

    return visitors.replacement_traverse(where, {}, swap)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def noon_date(scope: Scope, day: date) -> date:
    """The local date a UTC day's daily rollup is laid onto: that of its noon."""
    return datetime.combine(day, time(12), UTC).astimezone(scope.tz).date()


def plan(
    scope: Scope | None, start: datetime, end: datetime
) -> tuple[date, date, list[tuple[datetime, datetime]]]:
    """The whole UTC days [first, stop) in the whole hours [start, end), and the hour
    ranges to read hourly: the partial days at both ends and (with a ``scope``) each
    whole day's edge hours."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first = start.date() if start.timetz() == time(tzinfo=UTC) else start.date() + DAY
    stop = end.date()
    if first >= stop:
        return first, first, [(start, end)] if start < end else []
    ranges: list[tuple[datetime, datetime]] = []
    if start < _midnight(first):
        ranges.append((start, _midnight(first)))
    day = first
    while scope is not None and day < stop:
        at_noon = noon_date(scope, day)
        for n in range(24):
            hour = _midnight(day) + n * HOUR
            if hour.astimezone(scope.tz).date() != at_noon:
                ranges.append((hour, hour + HOUR))
        day += DAY
    if _midnight(stop) < end:
        ranges.append((_midnight(stop), end))
    merged: list[tuple[datetime, datetime]] = []
    for low, high in sorted(ranges):
        if merged and merged[-1][1] == low:
            merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return first, stop, merged


def _in(ranges: list[tuple[datetime, datetime]]) -> ColumnElement[bool]:
    """The hourly rollups within these hour ranges."""
    if not ranges:
        return false()
    return or_(*(and_(R.hour >= low, R.hour < high) for low, high in ranges))


def per_local_day(
    scope: Scope, kinds: tuple[str, ...], until: datetime, where: ColumnElement[bool]
) -> list[tuple[str, str, date, int]]:
    """(kind, channel, local date, count) of the rolled-up hours from the scope's start
    to the whole hour before ``until`` (the rest of that hour is the caller's, live)."""
    first, stop, ranges = plan(scope, scope.since, hour_of(until))
    found: dict[tuple[str, str, date], int] = defaultdict(int)
    for kind, channel, day, count in db.session.execute(
        select(D.kind, D.channel, D.day, func.sum(D.count))
        .where(D.kind.in_(kinds), D.day >= first, D.day < stop, on_daily(where))
        .group_by(D.kind, D.channel, D.day)
    ):
        found[(kind, channel, noon_date(scope, day))] += int(count)
    for kind, channel, local, utc_day, count in _hours(scope, kinds, ranges, where):
        found[(kind, channel, local)] += count
        if first <= utc_day < stop:  # an edge hour: counted in its day's daily rollup
            found[(kind, channel, noon_date(scope, utc_day))] -= count
    return [(kind, channel, day, count) for (kind, channel, day), count in found.items()]


def _hours(
    scope: Scope,
    kinds: tuple[str, ...],
    ranges: list[tuple[datetime, datetime]],
    where: ColumnElement[bool],
) -> list[tuple[str, str, date, date, int]]:
    """(kind, channel, local date, UTC date, count) of the hourly rollups in ``ranges``.
    PostgreSQL groups by both dates; SQLite by the hour (as a number), dated here."""
    conditions = (R.kind.in_(kinds), _in(ranges), where)
    if db.engine.dialect.name == "postgresql":
        local = cast(func.timezone(scope.tz.key, R.hour), Date)
        utc_day = cast(func.timezone("UTC", R.hour), Date)
        rows = db.session.execute(
            select(R.kind, R.channel, local, utc_day, func.sum(R.count))
            .where(*conditions)
            .group_by(R.kind, R.channel, local, utc_day)
        )
        return [(kind, channel, a, b, int(count)) for kind, channel, a, b, count in rows]
    step = epoch_hour()
    found = []
    for kind, channel, number, count in db.session.execute(
        select(R.kind, R.channel, step, func.sum(R.count))
        .where(*conditions)
        .group_by(R.kind, R.channel, step)
    ):
        there = local_hour(scope, number)
        found.append((kind, channel, there.date(), there.astimezone(UTC).date(), int(count)))
    return found


def totals(
    kinds: tuple[str, ...], since: datetime, until: datetime, where: ColumnElement[bool]
) -> list[tuple[str, str | None, int, int, int]]:
    """(kind, detail, count, sum of values, satisfied) over whole hours: the daily
    rollups of the whole UTC days, the hourly ones of the partial days at the ends."""
    first, stop, ranges = plan(None, since, until)
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    queries = [
        select(D.kind, D.detail, func.sum(D.count), func.sum(D.total), func.sum(D.satisfied))
        .where(D.kind.in_(kinds), D.day >= first, D.day < stop, on_daily(where))
        .group_by(D.kind, D.detail)
    ]
    if ranges:
        queries.append(
            select(R.kind, R.detail, func.sum(R.count), func.sum(R.total), func.sum(R.satisfied))
            .where(R.kind.in_(kinds), _in(ranges), where)
            .group_by(R.kind, R.detail)
        )
    for query in queries:
        for kind, detail, count, total, satisfied in db.session.execute(query):
            row = sums[(kind, detail)]
            row[0] += int(count)
            row[1] += int(total or 0)
            row[2] += int(satisfied or 0)
    return [
        (kind, detail or None, count, total, satisfied)
        for (kind, detail), (count, total, satisfied) in sums.items()
    ]
