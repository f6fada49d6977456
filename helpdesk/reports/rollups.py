"""Hourly rollups of the reporting events, kept in step with them, and read for reports.

Writing: with the events each flush writes (``recording``), the counted ones
(``models.ROLLED``) are summed per (kind, UTC hour, team, channel, detail) and added to
``reporting_rollups`` (and per UTC day to ``reporting_rollups_daily``) with an upsert,
in the same transaction; a customer deleted for good takes their events (ON DELETE
CASCADE), so they are taken off first. ``rebuild`` recomputes every rollup from the
events (after a bulk load).

Reading: a report in a time zone whose local midnights are whole UTC hours (every zone
but a handful like India's, checked per day) gets its days and local hours as whole sets
of UTC hours, so counts per day, the busiest hours, SLA and survey totals come from the
rollups, exactly: the busiest hours from these, the rest from the sums per UTC day and a
few hours (``reports.daily``). What the rollups cannot answer reads the events: a filter
or view by agent, an account manager's customers, a half-hour zone, the part of the
current hour up to now, and the durations (percentiles are not sums: read from the
events' covering index ``(kind, at, value, ...)``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    select,
    true,
)
from sqlalchemy.orm import Session

from helpdesk.reports import durations
from helpdesk.reports.models import ROLLED, ReportingDaily, ReportingEvent, ReportingRollup
from helpdesk.reports.scope import Scope

SATISFIED = 4  # a rating of 4 or 5 counts as satisfied
R = ReportingRollup
E = ReportingEvent
TABLE: Any = ReportingRollup.__table__
DAILY: Any = ReportingDaily.__table__
_KEY = ("kind", "hour", "team_id", "channel", "detail")
_DAY_KEY = ("kind", "day", "team_id", "channel", "detail")


def hour_of(at: datetime) -> datetime:
    """The UTC hour an event's moment falls in."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def keep_up(
    session: Session, events: list[dict[str, Any]], inserts: tuple[Any, list[tuple]] | None = None
) -> None:
    """Add these new event rows (their counted kinds) to the rollups; ``inserts`` (a table
    and its rows for ``driver_many``: the events themselves) go with them, on PostgreSQL
    in the same statement."""
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
    _apply(session, sums, inserts)
    durations.add(
        session,
        [
            (row["kind"], row["at"], row["team_id"], row["agent_id"], row["value"])
            for row in events
            if row["kind"] in durations.KEPT
        ],
    )


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
    timed = session.execute(
        select(E.kind, E.at, E.team_id, E.agent_id, E.value).where(
            E.customer_id.in_(customer_ids), E.kind.in_(durations.KEPT)
        )
    )
    durations.add(session, [tuple(row) for row in timed], -1)


def _count(sums: dict, kind, at, team_id, channel, detail, value, sign: int) -> None:
    """Add (``sign`` 1) or take off (-1) one event in ``sums``."""
    row = sums[(kind, hour_of(at), team_id or 0, channel, detail or "")]
    row[0] += sign
    row[1] += sign * (value or 0)
    row[2] += sign if kind == "survey" and (value or 0) >= SATISFIED else 0


def _apply(
    session: Session, sums: dict[tuple, list[int]], inserts: tuple[Any, list[tuple]] | None = None
) -> None:
    """Upsert the summed changes per hour and per day (in one lock order for every
    writer), after ``inserts``: on PostgreSQL all in one statement (one round trip), on
    SQLite (in the process: no round trips; no data-modifying WITH) one each."""
    days: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (kind, hour, *rest), change in sums.items():
        day = days[(kind, hour.date(), *rest)]
        for n in range(3):
            day[n] += change[n]
    on_sqlite = session.get_bind().dialect.name == "sqlite"
    writes = [inserts] if inserts else []
    for table, changes in ((TABLE, sums), (DAILY, days)):
        rows = [
            (kind, stored(moment, on_sqlite), *rest, c, t, s)
            for (kind, moment, *rest), (c, t, s) in sorted(changes.items())
            if c or t or s
        ]
        if rows:
            writes.append((table, rows))
    if not on_sqlite:
        if writes:
            _pg_at_once(session, writes)
        return
    for table, rows in writes:
        driver_many(session, table, rows)


def stored(moment: Any, on_sqlite: bool) -> Any:
    """A moment (UTC when naive) or a day as the driver takes it: in UTC, and on SQLite
    as the text SQLAlchemy stores (``helpdesk.db.UTCDateTime``, ``Date``)."""
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if on_sqlite else moment
    return moment.isoformat() if on_sqlite and moment is not None else moment


_SQL: dict[tuple[str, ...], str] = {}


def _insert_sql(table: Any, values: str) -> str:
    """INSERT INTO ``table`` (every column but an ``id``) ``values``; for a table keyed
    without an ``id`` (the rollups) an upsert adding the other columns."""
    columns = [column.name for column in table.columns if column.name != "id"]
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) {values}"
    key = [column.name for column in table.primary_key.columns]
    if "id" not in key:
        added = [name for name in columns if name not in key]
        sql += f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET " + ", ".join(
            f"{name} = {table.name}.{name} + excluded.{name}" for name in added
        )
    return sql


def _columns(table: Any) -> list[Any]:
    return [column for column in table.columns if column.name != "id"]


def driver_many(session: Session, table: Any, rows: list[tuple]) -> None:
    """Write ``rows`` (every column but an ``id``, in the table's order) straight through
    the driver's ``executemany`` (``_insert_sql``, the same text on both databases, built
    once per dialect and table). Bypassing SQLAlchemy's execution (compiled cache,
    parameter processing, result set-up) is most of what recording costs ingest per
    message (bench/reports.py, issue 17)."""
    dialect = session.get_bind().dialect.name
    sql = _SQL.get((dialect, table.name))
    if sql is None:
        mark = "?" if dialect == "sqlite" else "%s"
        sql = _insert_sql(table, f"VALUES ({', '.join([mark] * len(_columns(table)))})")
        _SQL[(dialect, table.name)] = sql
    cursor = session.connection().connection.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _pg_at_once(session: Session, writes: list[tuple[Any, list[tuple]]]) -> None:
    """PostgreSQL: every (table, rows) of ``writes`` in one statement: each an INSERT ...
    SELECT FROM unnest(one array per column), all but the last in WITH. Its text depends
    only on the tables (built once per list of tables), however many rows."""
    key = tuple(table.name for table, _ in writes)
    sql = _SQL.get(key)
    if sql is None:
        parts = []
        for table, _ in writes:
            arrays = ", ".join(
                f"%s::{column.type.compile(dialect=session.get_bind().dialect)}[]"
                for column in _columns(table)
            )
            parts.append(_insert_sql(table, f"SELECT * FROM unnest({arrays})"))
        sql = _chain(parts)
        _SQL[key] = sql
    params: list[Any] = []
    for table, rows in writes:
        width = len(_columns(table))
        params += [[row[n] for row in rows] for n in range(width)]
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql, params)
    finally:
        cursor.close()


def _chain(parts: list[str]) -> str:
    """``WITH w0 AS (a), w1 AS (b) c`` from [a, b, c]."""
    if len(parts) == 1:
        return parts[0]
    named = ", ".join(f"w{n} AS ({part})" for n, part in enumerate(parts[:-1]))
    return f"WITH {named} {parts[-1]}"


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
    if session.get_bind().dialect.name == "postgresql":
        day: Any = cast(func.timezone("UTC", R.hour), Date)
    else:
        day = func.date(R.hour)
    keys = (R.kind, day, R.team_id, R.channel, R.detail)
    session.execute(delete(ReportingDaily))
    session.execute(
        DAILY.insert().from_select(
            [*_DAY_KEY, "count", "total", "satisfied"],
            select(*keys, func.sum(R.count), func.sum(R.total), func.sum(R.satisfied)).group_by(
                *keys
            ),
        )
    )
    durations.rebuild(session)


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


def per_local_hour(scope: Scope, kind: str, where: ColumnElement[bool]) -> list[list[int]]:
    """``kind`` per local weekday (Monday first) and hour over the scope's days."""
    from helpdesk.extensions import db

    hours = [[0] * 24 for _ in range(7)]
    conditions = (R.kind == kind, R.hour >= scope.since, R.hour < scope.until, where)
    if db.engine.dialect.name == "postgresql":
        # Summed per UTC hour first: the time zone is applied to ~24 rows a day, not to
        # every (team, channel, detail) row of each hour.
        hourly = (
            select(R.hour, func.sum(R.count).label("n"))
            .where(*conditions)
            .group_by(R.hour)
            .subquery()
        )
        there = func.timezone(scope.tz.key, hourly.c.hour)
        weekday, hour = func.extract("isodow", there), func.extract("hour", there)
        for isodow, at_hour, count in db.session.execute(
            select(weekday, hour, func.sum(hourly.c.n)).group_by(weekday, hour)
        ):
            hours[int(isodow) - 1][int(at_hour)] += int(count)
        return hours
    step = epoch_hour()
    for number, count in db.session.execute(
        select(step, func.sum(R.count)).where(*conditions).group_by(step)
    ):
        local = local_hour(scope, number)
        hours[local.weekday()][local.hour] += int(count)
    return hours


def epoch_hour() -> Any:
    """SQLite: a rollup's hour as hours since 1970 (a number, not a date to parse)."""
    return cast(func.strftime("%s", R.hour), Integer) // 3600


def local_hour(scope: Scope, number: int) -> datetime:
    """An hour since 1970 in the report's time zone."""
    return datetime.fromtimestamp(int(number) * 3600, UTC).astimezone(scope.tz)
