"""Hourly rollups of the reporting events, kept in step with them, and read for reports.

Writing: with the events a transaction records (``recording``), the counted ones
(``models.ROLLED``) are summed per (kind, UTC hour, team, channel, detail) and added to
``reporting_rollups`` (and per UTC day to ``reporting_rollups_daily``) with an upsert,
all at the transaction's end (``keep_up`` notes, ``write`` writes); a customer deleted
for good takes their events (ON DELETE CASCADE), so they are taken off first.
``rebuild`` recomputes every rollup from the events (after a bulk load).

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
from collections.abc import Sequence
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
EVENTS: Any = ReportingEvent.__table__
UNWRITTEN = "reporting_unwritten"  # connection.info and session.info: an ``Unwritten``
_KEY = ("kind", "hour", "team_id", "channel", "detail")
_DAY_KEY = ("kind", "day", "team_id", "channel", "detail")


def hour_of(at: datetime) -> datetime:
    """The UTC hour an event's moment falls in."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class Unwritten:
    """What one transaction recorded for the reports and has not written yet: its event
    rows, and the changes they make to the rollups (summed per key) and histograms."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
        self.timed: list[tuple] = []
        self.open = True  # its transaction has not ended

    def __bool__(self) -> bool:
        return bool(self.events or self.sums or self.timed)

    def clear(self) -> None:
        """Forget it all (written, or rolled back)."""
        self.events.clear()
        self.sums.clear()
        self.timed.clear()


def unwritten(session: Session) -> Unwritten:
    """The session's transaction's ``Unwritten``, kept on its connection (whose events
    write it at the commit, ``end``) and on the session (found there without asking
    for the connection, which costs more than the rest of the noting)."""
    found = session.info.get(UNWRITTEN)
    if found is not None and found.open:
        return found
    connection = session.connection()
    found = connection.info.get(UNWRITTEN)
    if found is None:
        found = connection.info[UNWRITTEN] = Unwritten()
    session.info[UNWRITTEN] = found
    return found


def end(connection: Any) -> None:
    """The transaction on ``connection`` ended (committed, rolled back): forget what it
    noted and did not write."""
    found = connection.info.pop(UNWRITTEN, None)
    if found is not None:
        found.clear()
        found.open = False


def keep_up(
    session: Session, events: list[dict[str, Any]], rows: Sequence[tuple] = (), sign: int = 1
) -> None:
    """Note event ``rows`` (every column but the id, in the table's order) to insert, and
    add (``sign`` 1) or take off (-1) these ``events`` (their counted kinds) in the
    rollups and histograms: all written once, when the transaction ends (``write``)."""
    found = unwritten(session)
    found.events += rows
    for row in events:
        kind = row["kind"]
        if kind in ROLLED:
            _count(
                found.sums,
                kind,
                row["at"],
                row["team_id"],
                row["channel"],
                row["detail"],
                row["value"],
                sign,
            )
        if kind in durations.KEPT:
            found.timed.append(
                (kind, row["at"], row["team_id"], row["agent_id"], row["value"], sign)
            )


def forget_customers(session: Session, customer_ids: list[int]) -> None:
    """Take the events of customers deleted for good (their tickets and events go with
    them) off the rollups and histograms."""
    columns = (E.kind, E.at, E.team_id, E.channel, E.detail, E.value, E.agent_id)
    found = session.execute(
        select(*columns).where(
            E.customer_id.in_(customer_ids), E.kind.in_((*ROLLED, *durations.KEPT))
        )
    )
    keep_up(session, [row._asdict() for row in found], sign=-1)


def _count(sums: dict, kind, at, team_id, channel, detail, value, sign: int) -> None:
    """Add (``sign`` 1) or take off (-1) one event in ``sums``."""
    row = sums[(kind, hour_of(at), team_id or 0, channel, detail or "")]
    row[0] += sign
    row[1] += sign * (value or 0)
    row[2] += sign if kind == "survey" and (value or 0) >= SATISFIED else 0


def write(connection: Any) -> None:
    """Write what the transaction on ``connection`` noted (``keep_up``): the events, then
    the rollup, daily and histogram upserts, each table's rows in key order (one lock
    order for every writer). ``recording`` calls this at the very end of the
    transaction (the commit, or a savepoint's start or release: what a savepoint rolls
    back is what it noted), so the shared rollup rows are locked only for the commit,
    not for a whole batch (issue 20), and earlier only where the transaction reads them
    or deletes (``recording``). On PostgreSQL all in one statement."""
    found = connection.info.get(UNWRITTEN)
    if not found:
        return
    on_sqlite = connection.dialect.name == "sqlite"
    writes = []
    if found.events:
        rows = [(*row[:6], stored(row[6], on_sqlite), *row[7:]) for row in found.events]
        writes.append((EVENTS, rows))
    days: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (kind, hour, *rest), change in found.sums.items():
        day = days[(kind, hour.date(), *rest)]
        for n in range(3):
            day[n] += change[n]
    for table, changes in ((TABLE, found.sums), (DAILY, days)):
        rows = [
            (kind, stored(moment, on_sqlite), *rest, c, t, s)
            for (kind, moment, *rest), (c, t, s) in sorted(changes.items())
            if c or t or s
        ]
        if rows:
            writes.append((table, rows))
    writes += durations.changes(found.timed, on_sqlite)
    found.clear()
    cursor = connection.connection.cursor()
    try:
        if not on_sqlite:
            _pg_at_once(cursor, connection.dialect, writes)
            return
        for table, rows in writes:  # (SQLite: in the process, no round trips)
            cursor.executemany(_sql("sqlite", table), rows)
    finally:
        cursor.close()


def stored(moment: Any, on_sqlite: bool) -> Any:
    """A moment (UTC when naive) or a day as the driver takes it: in UTC, and on SQLite
    as the text SQLAlchemy stores (``helpdesk.db.UTCDateTime``, ``Date``)."""
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if on_sqlite else moment
    return moment.isoformat() if on_sqlite and moment is not None else moment


_SQL: dict[tuple, str] = {}


def _insert_sql(table: Any, values: str) -> str:
    """INSERT INTO ``table`` (every column but an ``id``) ``values``; for a table keyed
    without an ``id`` (the rollups) an upsert adding the other columns."""
    columns = [column.name for column in _columns(table)]
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


def _sql(dialect: str, table: Any) -> str:
    """``_insert_sql`` of one row's VALUES, built once per dialect and table: written
    straight through the driver, bypassing SQLAlchemy's execution (compiled cache,
    parameter processing, result set-up), which was most of what recording cost ingest
    per message (bench/reports.py, issue 17)."""
    sql = _SQL.get((dialect, table.name))
    if sql is None:
        mark = "?" if dialect == "sqlite" else "%s"
        sql = _insert_sql(table, f"VALUES ({', '.join([mark] * len(_columns(table)))})")
        _SQL[(dialect, table.name)] = sql
    return sql


def _pg_at_once(cursor: Any, dialect: Any, writes: list[tuple[Any, list[tuple]]]) -> None:
    """PostgreSQL: every (table, rows) of ``writes`` in one statement, all but the last
    in WITH: a table's one row as VALUES, several as INSERT ... SELECT FROM unnest(one
    array per column) (twice the server's time of VALUES for one row: measured). The
    text depends only on the tables and which have one row (built once each)."""
    key = tuple((table.name, len(rows) == 1) for table, rows in writes)
    sql = _SQL.get(key)
    if sql is None:
        parts = []
        for table, rows in writes:
            if len(rows) == 1:
                parts.append(_sql("postgresql", table))
                continue
            arrays = ", ".join(
                f"%s::{column.type.compile(dialect=dialect)}[]" for column in _columns(table)
            )
            parts.append(_insert_sql(table, f"SELECT * FROM unnest({arrays})"))
        sql = _chain(parts)
        _SQL[key] = sql
    params: list[Any] = []
    for table, rows in writes:
        if len(rows) == 1:
            params += rows[0]
        else:
            params += [[row[n] for row in rows] for n in range(len(_columns(table)))]
    cursor.execute(sql, params)


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
