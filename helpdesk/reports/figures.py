"""The report's figures, from the reporting events: a fixed handful of queries for any
range (counts grouped in SQL, percentiles in PostgreSQL's ``percentile_cont``; on SQLite,
which has none, from the values in Python with the same interpolation).

Counts per local day and the busiest hours are grouped by PostgreSQL in the report's
time zone (``AT TIME ZONE``); SQLite knows no time zones, so there they are grouped by
UTC quarter hour and laid onto local days and hours in Python: every time zone's offset
is a whole number of quarter hours, so both are exact across daylight-saving changes.

The backlog at the end of a day is the open tickets now, less what was created and
reopened since, plus what was solved since (and likewise for tickets moved between
teams): it needs no scan of the events before the range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from math import ceil, floor
from typing import Any

from sqlalchemy import Date, Integer, case, cast, func, select

from helpdesk.agents.models import Agent
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.reports import daily, rollups
from helpdesk.reports import durations as histograms
from helpdesk.reports.models import ReportingEvent
from helpdesk.reports.rollups import SATISFIED
from helpdesk.reports.scope import Scope, event_filter, ticket_filter
from helpdesk.tickets.models import Ticket

QUARTER = 900  # seconds: the grouping step
BACKLOG = {"created": 1, "reopened": 1, "team_in": 1, "solved": -1, "team_out": -1}
E = ReportingEvent


def _quarter_hour():
    """The SQL expression of an event's quarter hour (seconds since 1970 // 900)."""
    if db.engine.dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", E.at) / QUARTER), Integer)
    return cast(func.strftime("%s", E.at), Integer) / QUARTER


def percentile(values: list[float], share: float) -> float | None:
    """The ``share`` percentile of sorted ``values``, interpolated between the two nearest
    ranks (PostgreSQL's percentile_cont); None for no values."""
    if not values:
        return None
    position = (len(values) - 1) * share
    low, high = floor(position), ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


def minutes(seconds: float | None) -> float | None:
    """Seconds as minutes, to a tenth."""
    return None if seconds is None else round(seconds / 60, 1)


def overview(scope: Scope, extras: bool = False) -> dict[str, Any]:
    """The report: the contract's figures (docs/product.md); ``extras`` adds what the page
    draws besides (per day and channel, the busiest hours, SLA per target)."""
    now = utcnow()
    days = _days(scope, now)
    timings = _durations(scope)
    totals = _totals(scope)
    agents = _by_agent(scope, timings)
    met, breached = totals["sla_met"], totals["sla_breached"]
    ratings = totals["survey"]
    by_channel: dict[str, dict[str, int]] = {}
    for (kind, channel), count in days["by_channel"].items():
        by_channel.setdefault(channel, {"created": 0, "solved": 0})[kind] += count
    report: dict[str, Any] = {
        "created": sum(day["created"] for day in days["rows"]),
        "solved": sum(day["solved"] for day in days["rows"]),
        "backlog": days["rows"][-1]["backlog"] if days["rows"] else 0,
        "first_response_minutes": timings["first_response"]["all"],
        "resolution_minutes": timings["solved"]["all"],
        "sla": {
            "met": sum(met.values()),
            "breached": sum(breached.values()),
            "compliance": _share(sum(met.values()), sum(met.values()) + sum(breached.values())),
        },
        "csat": {
            "responses": ratings["count"],
            "average": round(ratings["sum"] / ratings["count"], 2) if ratings["count"] else None,
            "satisfied_share": _share(ratings["satisfied"], ratings["count"]),
        },
        "by_day": days["rows"],
        "by_channel": dict(sorted(by_channel.items())),
        "by_agent": agents,
    }
    if extras:
        report["by_day_channel"] = days["by_day_channel"]
        report["hours"] = days["hours"]
        report["sla_by_target"] = {
            target: {"met": met.get(target, 0), "breached": breached.get(target, 0)}
            for target in ("first_response", "resolution")
        }
    return report


def _share(part: int, whole: int) -> float | None:
    """``part / whole`` to three places; None when there is nothing to divide."""
    return round(part / whole, 3) if whole else None


def _days(scope: Scope, now: datetime) -> dict[str, Any]:
    """Created and solved per day (and per channel), the backlog at each day's end, the
    busiest hours (created, by local weekday and hour)."""
    index = {day: n for n, day in enumerate(scope.days)}
    rows = _per_local_day(scope, tuple(BACKLOG), max(scope.until, now), with_agent=False)
    open_now = db.session.execute(
        select(func.count()).select_from(Ticket).where(ticket_filter(scope))
    ).scalar_one()
    net = [0] * len(scope.days)
    net_after = 0  # after the range (up to now)
    for kind, _, day, count in rows:
        n = index.get(day)
        if n is None:
            net_after += BACKLOG[kind] * count
        else:
            net[n] += BACKLOG[kind] * count
    # Created and solved: the scope's (an agent's view: only what is attributed to them).
    if scope.agent is not None or _agent_only(scope):
        rows = _per_local_day(scope, ("created", "solved"), scope.until)
    created, solved = [0] * len(scope.days), [0] * len(scope.days)
    per_channel: dict[tuple[str, str], int] = defaultdict(int)
    day_channel: dict[tuple[int, str, str], int] = defaultdict(int)
    for kind, channel, day, count in rows:
        n = index.get(day)
        if n is None or kind not in ("created", "solved"):
            continue
        (created if kind == "created" else solved)[n] += count
        per_channel[(kind, channel)] += count
        day_channel[(n, kind, channel)] += count
    backlog = open_now - net_after - sum(net)
    out = []
    for n, day in enumerate(scope.days):
        backlog += net[n]
        out.append(
            {
                "date": day.isoformat(),
                "created": created[n],
                "solved": solved[n],
                "backlog": backlog,
            }
        )
    channels = sorted({channel for (_, channel) in per_channel})
    return {
        "rows": out,
        "by_channel": per_channel,
        "by_day_channel": {
            channel: {
                kind: [day_channel.get((n, kind, channel), 0) for n in range(len(scope.days))]
                for kind in ("created", "solved")
            }
            for channel in channels
        },
        "hours": _hours(scope),
    }


def _per_local_day(
    scope: Scope, kinds: tuple[str, ...], until: datetime, with_agent: bool = True
) -> list:
    """(kind, channel, local date, count) of the events of ``kinds`` from the scope's start
    to ``until``: from the hourly rollups where they answer (and the events of the hour
    up to ``until``), else from the events. PostgreSQL groups those by the local date
    itself (``AT TIME ZONE``); SQLite, which knows no time zones, by UTC quarter hour,
    laid onto local dates here."""
    rolled = rollups.condition(scope, with_agent)
    condition = event_filter(scope, with_agent=with_agent)
    if rolled is not None:
        return _rolled_per_local_day(scope, kinds, until, rolled, condition)
    where = (E.kind.in_(kinds), E.at >= scope.since, E.at < until, condition)
    if db.engine.dialect.name == "postgresql":
        day = cast(func.timezone(scope.tz.key, E.at), Date)
        return list(
            db.session.execute(
                select(E.kind, E.channel, day, func.count())
                .where(*where)
                .group_by(E.kind, E.channel, day)
            ).all()
        )
    quarter = _quarter_hour()
    found: dict[tuple[str, str, date], int] = defaultdict(int)
    dates: dict[int, date] = {}
    for kind, channel, step, count in db.session.execute(
        select(E.kind, E.channel, quarter, func.count())
        .where(*where)
        .group_by(E.kind, E.channel, quarter)
    ):
        if step not in dates:
            dates[step] = _local(scope, step).date()
        found[(kind, channel, dates[step])] += count
    return [(kind, channel, day, count) for (kind, channel, day), count in found.items()]


def _rolled_per_local_day(
    scope: Scope, kinds: tuple[str, ...], until: datetime, rolled, condition
) -> list:
    """``_per_local_day`` from the rollups' whole hours, and the events of ``until``'s
    hour up to it (now: the hour so far)."""
    found: dict[tuple[str, str, date], int] = defaultdict(int)
    for kind, channel, day, count in daily.per_local_day(scope, kinds, until, rolled):
        found[(kind, channel, day)] += count
    last = rollups.hour_of(until)
    if until > last:
        live = db.session.execute(
            select(E.kind, E.channel, func.count())
            .where(E.kind.in_(kinds), E.at >= last, E.at < until, condition)
            .group_by(E.kind, E.channel)
        )
        for kind, channel, count in live:
            found[(kind, channel, _local_date(scope, last))] += count
    return [(kind, channel, day, count) for (kind, channel, day), count in found.items()]


def _hours(scope: Scope) -> list[list[int]]:
    """Tickets created per local weekday (Monday first) and hour."""
    hours = [[0] * 24 for _ in range(7)]
    rolled = rollups.condition(scope)
    if rolled is not None:
        return rollups.per_local_hour(scope, "created", rolled)
    where = (E.kind == "created", E.at >= scope.since, E.at < scope.until, event_filter(scope))
    if db.engine.dialect.name == "postgresql":
        there = func.timezone(scope.tz.key, E.at)
        weekday, hour = func.extract("isodow", there), func.extract("hour", there)
        for isodow, at_hour, count in db.session.execute(
            select(weekday, hour, func.count()).where(*where).group_by(weekday, hour)
        ):
            hours[int(isodow) - 1][int(at_hour)] += count
        return hours
    quarter = _quarter_hour()
    for step, count in db.session.execute(
        select(quarter, func.count()).where(*where).group_by(quarter)
    ):
        local = _local(scope, step)
        hours[local.weekday()][local.hour] += count
    return hours


def _local_date(scope: Scope, hour: datetime) -> date:
    """The local date of a UTC hour (whole-hour zones: the whole hour is that day's)."""
    return hour.astimezone(scope.tz).date()


def _local(scope: Scope, step: int) -> datetime:
    """The start of a quarter hour (seconds since 1970 // 900) in the report's zone."""
    return datetime.fromtimestamp(int(step) * QUARTER, UTC).astimezone(scope.tz)


def _agent_only(scope: Scope) -> bool:
    """Whether the viewer sees only their own events (an agent)."""
    return not scope.viewer.is_admin and scope.viewer.role == "agent"


def _in_range(scope: Scope, kinds: Iterable[str]):
    """The conditions of the scope's events of ``kinds`` within its days."""
    return (E.kind.in_(tuple(kinds)), E.at >= scope.since, E.at < scope.until, event_filter(scope))


def _durations(scope: Scope) -> dict[str, dict[Any, Any]]:
    """Median and 90th percentile of first response and resolution (minutes), overall, and
    the first response median per agent."""
    kinds = ("first_response", "solved")
    found = histograms.from_histograms(scope)
    if found is not None:
        return found
    found = {kind: {} for kind in kinds}
    if db.engine.dialect.name == "postgresql":
        median = func.percentile_cont(0.5).within_group(E.value)
        p90 = func.percentile_cont(0.9).within_group(E.value)
        for kind, mid, high in db.session.execute(
            select(E.kind, median, p90).where(*_in_range(scope, kinds)).group_by(E.kind)
        ):
            found[kind]["all"] = {"median": minutes(mid), "p90": minutes(high)}
        for agent_id, mid in db.session.execute(
            select(E.agent_id, median)
            .where(*_in_range(scope, ("first_response",)), E.agent_id.is_not(None))
            .group_by(E.agent_id)
        ):
            found["first_response"][agent_id] = minutes(mid)
    else:
        values: dict[tuple[str, Any], list[float]] = defaultdict(list)
        for kind, agent_id, value in db.session.execute(
            select(E.kind, E.agent_id, E.value).where(*_in_range(scope, kinds))
        ):
            if value is None:
                continue
            values[(kind, "all")].append(value)
            if kind == "first_response" and agent_id is not None:
                values[(kind, agent_id)].append(value)
        for (kind, key), numbers in values.items():
            numbers.sort()
            if key == "all":
                found[kind]["all"] = {
                    "median": minutes(percentile(numbers, 0.5)),
                    "p90": minutes(percentile(numbers, 0.9)),
                }
            else:
                found[kind][key] = minutes(percentile(numbers, 0.5))
    for kind in kinds:
        found[kind].setdefault("all", {"median": None, "p90": None})
    return found


def _totals(scope: Scope) -> dict[str, Any]:
    """SLA targets met and missed (per target), and the survey answers."""
    kinds = ("sla_met", "sla_breached", "survey")
    rolled = rollups.condition(scope)
    if rolled is not None:
        rows = daily.totals(kinds, scope.since, scope.until, rolled)
    else:
        rows = _event_totals(scope, kinds)
    totals: dict[str, Any] = {
        "sla_met": {},
        "sla_breached": {},
        "survey": {"count": 0, "sum": 0, "satisfied": 0},
    }
    for kind, detail, count, total, satisfied in rows:
        if kind == "survey":
            survey = totals["survey"]
            survey["count"] += count
            survey["sum"] += int(total)
            survey["satisfied"] += int(satisfied or 0)
        else:
            totals[kind][detail or "other"] = count
    return totals


def _event_totals(scope: Scope, kinds: tuple[str, ...]) -> list:
    """(kind, detail, count, sum of values, satisfied) from the events."""
    return list(
        db.session.execute(
            select(
                E.kind,
                E.detail,
                func.count(),
                func.coalesce(func.sum(E.value), 0),
                func.sum(case((E.value >= SATISFIED, 1), else_=0)),
            )
            .where(*_in_range(scope, kinds))
            .group_by(E.kind, E.detail)
        ).all()
    )


def _by_agent(scope: Scope, durations: dict[str, dict[Any, Any]]) -> list[dict[str, Any]]:
    """Per agent: solved, first response median, average rating."""
    rows: Any = histograms.per_agent(scope)
    if rows is None:
        rows = db.session.execute(
            select(E.agent_id, E.kind, func.count(), func.coalesce(func.sum(E.value), 0))
            .where(*_in_range(scope, ("solved", "survey")), E.agent_id.is_not(None))
            .group_by(E.agent_id, E.kind)
        ).all()
    per: dict[int, dict[str, Any]] = defaultdict(lambda: {"solved": 0, "csat_average": None})
    for agent_id, kind, count, total in rows:
        if kind == "solved":
            per[agent_id]["solved"] = count
        else:
            per[agent_id]["csat_average"] = round(int(total) / count, 2)
    first = durations["first_response"]
    ids = set(per) | {key for key in first if key != "all"}
    names = dict(
        db.session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(ids))).all()
        if ids
        else []
    )
    result = [
        {
            "agent": {"id": agent_id, "name": names.get(agent_id)},
            "solved": per[agent_id]["solved"],
            "first_response_minutes_median": first.get(agent_id),
            "csat_average": per[agent_id]["csat_average"],
        }
        for agent_id in ids
    ]
    return sorted(result, key=lambda row: (-row["solved"], row["agent"]["name"] or ""))
