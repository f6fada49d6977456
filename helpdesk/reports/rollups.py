"""Hourly rollups of the reporting events, kept in step with them, and read for reports.

Writing: with the events each flush writes (``recording``), the counted ones
(``models.ROLLED``) are summed per (kind, UTC hour, team, channel, detail) and added to
``reporting_rollups`` with one upsert, in the same transaction; a customer deleted for
good takes their events (ON DELETE CASCADE), so they are taken off first. ``rebuild``
recomputes every rollup from the events (after a bulk load).

Reading: a report in a time zone whose local midnights are whole UTC hours (every zone
but a handful like India's, checked per day) gets its days and local hours as whole sets
of UTC hours, so counts per day, the busiest hours, SLA and survey totals come from the
rollups, exactly. What the rollups cannot answer reads the events: a filter or view by
agent, an account manager's customers, a half-hour zone, the part of the current hour
up to now, and the durations (percentiles are not sums: read from the events' covering
index ``(kind, at, value, ...)``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, false, func, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from helpdesk.reports.models import ROLLED, ReportingEvent, ReportingRollup
from helpdesk.reports.scope import Scope

SATISFIED = 4  # a rating of 4 or 5 counts as satisfied
R = ReportingRollup
E = ReportingEvent
TABLE: Any = ReportingRollup.__table__
_KEY = ("kind", "hour", "team_id", "channel", "detail")


def hour_of(at: datetime) -> datetime:
    """The UTC hour an event's moment falls in."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def keep_up(session: Session, events: list[dict[str, Any]]) -> None:
    """Add these new event rows (their counted kinds) to the rollups; one upsert."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in events:
        if row["kind"] in ROLLED:
            _count(
                sums,
                row["kind"],
                row["at"],
                row["team_id"],
                row["channel"],
                row["detail"],
                row["value"],
                1,
            )
    _apply(session, sums)


def forget_customers(session: Session, customer_ids: list[int]) -> None:
    """Take the events of customers deleted for good (their tickets and events go with
    them) off the rollups; one upsert."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for kind, at, team_id, channel, detail, value in session.execute(
        select(E.kind, E.at, E.team_id, E.channel, E.detail, E.value).where(
            E.customer_id.in_(customer_ids), E.kind.in_(ROLLED)
        )
    ):
        _count(sums, kind, at, team_id, channel, detail, value, -1)
    _apply(session, sums)


def _count(sums: dict, kind, at, team_id, channel, detail, value, sign: int) -> None:
    """Add (``sign`` 1) or take off (-1) one event in ``sums``."""
    row = sums[(kind, hour_of(at), team_id or 0, channel, detail or "")]
    row[0] += sign
    row[1] += sign * (value or 0)
    row[2] += sign if kind == "survey" and (value or 0) >= SATISFIED else 0


def _apply(session: Session, sums: dict[tuple, list[int]]) -> None:
    """Upsert the summed changes (in one lock order for every writer)."""
    rows = [
        dict(zip(_KEY, key, strict=True), count=c, total=t, satisfied=s)
        for key, (c, t, s) in sorted(sums.items())
        if c or t or s
    ]
    if rows:
        session.execute(_upsert(session, rows))


def _upsert(session: Session, rows: list[dict[str, Any]]):
    """INSERT ... ON CONFLICT DO UPDATE adding the counts, on either database."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(TABLE).values(rows)
    added = statement.excluded
    table = TABLE.c
    return statement.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={
            "count": table.count + added["count"],
            "total": table.total + added.total,
            "satisfied": table.satisfied + added.satisfied,
        },
    )


def rebuild(session: Session) -> None:
    """Recompute every rollup from the events (after rows were loaded around the flush)."""
    if session.get_bind().dialect.name == "postgresql":
        hour: Any = func.timezone("UTC", func.date_trunc("hour", func.timezone("UTC", E.at)))
    else:  # the text SQLAlchemy stores a SQLite DateTime as
        hour = func.strftime("%Y-%m-%d %H:00:00.000000", E.at)
    team = func.coalesce(E.team_id, 0)
    detail = func.coalesce(E.detail, "")
    value = func.coalesce(E.value, 0)
    grouped = (
        select(
            E.kind,
            hour,
            team,
            E.channel,
            detail,
            func.count(),
            func.coalesce(func.sum(value), 0),
            func.sum(case((and_(E.kind == "survey", value >= SATISFIED), 1), else_=0)),
        )
        .where(E.kind.in_(ROLLED))
        .group_by(E.kind, hour, team, E.channel, detail)
    )
    session.execute(delete(R))
    session.execute(TABLE.insert().from_select([*_KEY, "count", "total", "satisfied"], grouped))


# ----- reading -----


def condition(scope: Scope, with_agent: bool = True) -> ColumnElement[bool] | None:
    """The rollups' version of ``scope.event_filter``; None when they cannot answer (a
    view or filter by agent, an account manager's customers, a half-hour time zone)."""
    viewer = scope.viewer
    if not scope.rollups or viewer.own_accounts_only or not whole_hours(scope):
        return None
    agent_view = not viewer.is_admin and viewer.role != "lead"
    if with_agent and (scope.agent is not None or agent_view):
        return None
    conditions: list[ColumnElement[bool]] = [true()]
    if not viewer.is_admin:
        teams = viewer.team_ids
        conditions.append(R.team_id.in_(teams) if teams else false())
    if scope.team is not None:
        conditions.append(R.team_id == scope.team.id)
    if scope.channel is not None:
        conditions.append(R.channel == scope.channel)
    return and_(*conditions)


def whole_hours(scope: Scope) -> bool:
    """Whether every local midnight of the report (and the day after) is a whole UTC
    hour, so its days and local hours are whole UTC hours."""
    cached = getattr(scope, "_whole_hours", None)
    if cached is None:
        day, cached = scope.first, True
        while cached and day <= scope.last + timedelta(days=1):
            offset = datetime.combine(day, time(), scope.tz).utcoffset()
            cached = offset is not None and offset.total_seconds() % 3600 == 0
            day += timedelta(days=1)
        scope._whole_hours = cached  # type: ignore[attr-defined]
    return cached


def per_hour(
    kinds: tuple[str, ...], since: datetime, until: datetime, where: ColumnElement[bool]
) -> list[tuple[str, str, datetime, int]]:
    """(kind, channel, UTC hour, count) of the rolled-up hours from ``since`` to the
    whole hour before ``until``; the rest of ``until``'s hour is the caller's (live)."""
    from helpdesk.extensions import db

    rows = db.session.execute(
        select(R.kind, R.channel, R.hour, func.sum(R.count))
        .where(R.kind.in_(kinds), R.hour >= since, R.hour < hour_of(until), where)
        .group_by(R.kind, R.channel, R.hour)
    ).all()
    return [(kind, channel, hour, int(count)) for kind, channel, hour, count in rows]


def totals(
    kinds: tuple[str, ...], since: datetime, until: datetime, where: ColumnElement[bool]
) -> list[tuple[str, str | None, int, int, int]]:
    """(kind, detail, count, sum of values, satisfied) over whole hours."""
    from helpdesk.extensions import db

    rows = db.session.execute(
        select(R.kind, R.detail, func.sum(R.count), func.sum(R.total), func.sum(R.satisfied))
        .where(R.kind.in_(kinds), R.hour >= since, R.hour < until, where)
        .group_by(R.kind, R.detail)
    ).all()
    return [
        (kind, detail or None, int(count), int(total or 0), int(satisfied or 0))
        for kind, detail, count, total, satisfied in rows
    ]
