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

from sqlalchemy import Column, ColumnElement, Date, cast, func, select
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


def plan(scope: Scope | None, start: datetime, end: datetime) -> tuple[date, date, list[datetime]]:
    """The whole UTC days [first, stop) in the whole hours [start, end), and the hours to
    read hourly: those of the partial days at both ends and (with a ``scope``) each
    whole day's edge hours (on another local date than its noon: a run at the day's
    start or end where the offset holds all day)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first = start.date() if start.timetz() == time(tzinfo=UTC) else start.date() + DAY
    stop = end.date()
    if first >= stop:
        return first, first, _hours_from(start, end)
    hours = _hours_from(start, _midnight(first))
    day = first
    while scope is not None and day < stop:
        at_noon, midnight = noon_date(scope, day), _midnight(day)
        last = midnight + 23 * HOUR
        if midnight.astimezone(scope.tz).utcoffset() != last.astimezone(scope.tz).utcoffset():
            # a change of time: each hour (a clock set back at midnight repeats a date)
            hours += [h for h in _hours_from(midnight, last + HOUR) if _off(scope, h, at_noon)]
        else:
            for steps in (range(12), range(23, 12, -1)):
                for n in steps:
                    if not _off(scope, midnight + n * HOUR, at_noon):
                        break
                    hours.append(midnight + n * HOUR)
        day += DAY
    return first, stop, hours + _hours_from(_midnight(stop), end)


def _off(scope: Scope, hour: datetime, at_noon: date) -> bool:
    """Whether a UTC hour is on another local date than its day's noon."""
    return hour.astimezone(scope.tz).date() != at_noon


def _hours_from(start: datetime, end: datetime) -> list[datetime]:
    """The whole hours from ``start`` up to ``end``."""
    return [start + n * HOUR for n in range(max(0, int((end - start) / HOUR)))]


def per_local_day(
    scope: Scope, kinds: tuple[str, ...], until: datetime, where: ColumnElement[bool]
) -> list[tuple[str, str, date, int]]:
    """(kind, channel, local date, count) of the rolled-up hours from the scope's start
    to the whole hour before ``until`` (the rest of that hour is the caller's, live)."""
    first, stop, hours = plan(scope, scope.since, hour_of(until))
    found: dict[tuple[str, str, date], int] = defaultdict(int)
    noon: dict[date, date] = {}
    for kind, channel, day, count in db.session.execute(
        select(D.kind, D.channel, D.day, func.sum(D.count))
        .where(D.kind.in_(kinds), D.day >= first, D.day < stop, on_daily(where))
        .group_by(D.kind, D.channel, D.day)
    ):
        if day not in noon:
            noon[day] = noon_date(scope, day)
        found[(kind, channel, noon[day])] += int(count)
    for kind, channel, local, utc_day, count in _hours(scope, kinds, hours, where):
        found[(kind, channel, local)] += count
        if first <= utc_day < stop:  # an edge hour: counted in its day's daily rollup
            if utc_day not in noon:
                noon[utc_day] = noon_date(scope, utc_day)
            found[(kind, channel, noon[utc_day])] -= count
    return [(kind, channel, day, count) for (kind, channel, day), count in found.items()]


def _hours(
    scope: Scope,
    kinds: tuple[str, ...],
    hours: list[datetime],
    where: ColumnElement[bool],
) -> list[tuple[str, str, date, date, int]]:
    """(kind, channel, local date, UTC date, count) of the hourly rollups of ``hours``.
    PostgreSQL groups by both dates; SQLite by the hour (as a number), dated here."""
    conditions = (R.kind.in_(kinds), R.hour.in_(hours), where)
    if db.engine.dialect.name == "postgresql":
        # Summed per hour first: the dates are computed once an hour and kind, not for
        # every team's and detail's row.
        hourly = (
            select(R.kind, R.channel, R.hour, func.sum(R.count).label("n"))
            .where(*conditions)
            .group_by(R.kind, R.channel, R.hour)
            .subquery()
        )
        local = cast(func.timezone(scope.tz.key, hourly.c.hour), Date)
        utc_day = cast(func.timezone("UTC", hourly.c.hour), Date)
        rows = db.session.execute(
            select(hourly.c.kind, hourly.c.channel, local, utc_day, func.sum(hourly.c.n)).group_by(
                hourly.c.kind, hourly.c.channel, local, utc_day
            )
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
    first, stop, hours = plan(None, since, until)
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    queries = [
        select(D.kind, D.detail, func.sum(D.count), func.sum(D.total), func.sum(D.satisfied))
        .where(D.kind.in_(kinds), D.day >= first, D.day < stop, on_daily(where))
        .group_by(D.kind, D.detail)
    ]
    if hours:
        queries.append(
            select(R.kind, R.detail, func.sum(R.count), func.sum(R.total), func.sum(R.satisfied))
            .where(R.kind.in_(kinds), R.hour.in_(hours), where)
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
