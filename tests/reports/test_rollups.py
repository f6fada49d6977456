"""The hourly and daily rollups: kept in step by each flush exactly as a rebuild from the events
makes them (also when a customer is erased), and every figure read from them equals the
same figure read from the events, per role, filter and time zone (across the change of
time in Berlin, in New York, in UTC; India's half hours read the events)."""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import func, select, text

from helpdesk import unit_of_work
from helpdesk.customers import services as customers
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.reports import figures, recording, rollups
from helpdesk.reports import scope as scopes
from helpdesk.reports.models import (
    ReportingAgentPeriod,
    ReportingDaily,
    ReportingDuration,
    ReportingEvent,
    ReportingRollup,
)
from helpdesk.tickets import services
from tests.reports.conftest import _at, _open, _reply, _status, ticket, utc


def _rows() -> list[tuple]:
    db.session.rollback()
    return sorted(
        (r.kind, r.hour, r.team_id, r.channel, r.detail, r.count, r.total, r.satisfied)
        for r in db.session.execute(select(ReportingRollup)).scalars()
        if r.count
    )


def _days() -> list[tuple]:
    """The daily rollups; they must be the hourly ones summed per UTC day."""
    db.session.rollback()
    days = sorted(
        (r.kind, r.day, r.team_id, r.channel, r.detail, r.count, r.total, r.satisfied)
        for r in db.session.execute(select(ReportingDaily)).scalars()
        if r.count
    )
    summed: dict[tuple, list[int]] = {}
    for kind, hour, team, channel, detail, count, total, satisfied in _rows():
        row = summed.setdefault((kind, hour.date(), team, channel, detail), [0, 0, 0])
        row[0], row[1], row[2] = row[0] + count, row[1] + total, row[2] + satisfied
    assert days == sorted((*key, *sums) for key, sums in summed.items())
    return days


def _histograms() -> list[tuple]:
    """The duration histograms and the per-agent counts (the survey answers' included)."""
    db.session.rollback()
    found = [
        (r.kind, r.period, r.team_id, r.agent_id, r.bucket, r.count)
        for r in db.session.execute(select(ReportingDuration)).scalars()
        if r.count
    ]
    found += [
        (r.kind, r.period, r.team_id, r.agent_id, r.count, r.total)
        for r in db.session.execute(select(ReportingAgentPeriod)).scalars()
        if r.count
    ]
    assert ("survey", 2, 7) in {(r[0], r[4], r[5]) for r in found}  # Ann's two answers
    return sorted(found)


@pytest.fixture
def rated(desk, history, make_customer):
    """The history, two survey answers, and a customer's ticket erased with them."""
    for key, rating in (("t1", 5), ("t4", 2)):
        _at(
            utc(26, 10),
            lambda key=key, rating=rating: recording.add(
                db.session(), ticket(history[key]), "survey", utc(26, 10), desk["ann"].id, rating
            ),
        )
    eve = make_customer("Eve", emails=["eve@example.com"])
    desk_eve = {**desk, "ada": eve}
    gone = _open(desk_eve, desk["ann"], "email", utc(24, 8))
    _reply(gone, desk["ann"], utc(24, 8, 20))
    _status(gone, desk["ann"], "solved", utc(24, 10))
    return history


def test_the_flush_keeps_them_as_a_rebuild_makes_them(app, rated):
    eve = db.session.execute(select(Customer).where(Customer.name == "Eve")).scalar_one()
    assert sum(r[5] for r in _rows() if r[0] == "created") == 5
    _at(utc(27, 9), lambda: customers.erase(db.session.get(Customer, eve.id)))
    kept, kept_days, kept_histograms = _rows(), _days(), _histograms()
    assert sum(r[5] for r in kept if r[0] == "created") == 4  # Eve's went with her
    surveys = [r for r in kept if r[0] == "survey"]
    assert [(r[1], r[5], r[6], r[7]) for r in surveys] == [(utc(26, 10), 2, 7, 1)]
    _at(utc(27, 9), lambda: rollups.rebuild(db.session()))
    assert _rows() == kept
    assert _days() == kept_days
    assert _histograms() == kept_histograms


# (viewer, filters, time zone, whether the rollups answer the counts)
CASES = [
    ("admin", {}, "Europe/Berlin", True),
    ("admin", {}, "America/New_York", True),
    ("admin", {}, "UTC", True),
    ("admin", {}, "Asia/Kolkata", False),
    ("admin", {"channel": "email"}, "Europe/Berlin", True),
    ("admin", {"team": "Sales"}, "Europe/Berlin", True),
    ("lead", {}, "Europe/Berlin", True),
    ("ann", {}, "Europe/Berlin", False),
]


def test_every_figure_from_them_equals_the_events(app, desk, rated):
    sales = next(t.id for t in desk["bob"].teams if t.name == "Sales")
    for who, filters, tz, rolled in CASES:
        team = sales if "team" in filters else None
        with time_machine.travel(utc(27, 12), tick=False):
            reports = []
            for use in (True, False):
                scope = scopes.build(
                    desk[who],
                    "2026-10-20",
                    "2026-10-27",
                    tz,
                    team=team,
                    channel=filters.get("channel"),
                )
                scope.rollups = use
                assert (rollups.condition(scope) is not None) == (use and rolled)
                reports.append(figures.overview(scope, extras=True))
        assert reports[0] == reports[1], (who, filters, tz)
        assert reports[0]["created"] + reports[0]["solved"] > 0, (who, filters, tz)
        if who == "admin" and not filters:
            assert reports[0]["csat"] == {"responses": 2, "average": 3.5, "satisfied_share": 0.5}


def _created() -> tuple[int, int]:
    """``created`` as the rollups count it, and as the events do."""
    db.session.rollback()
    rolled = sum(r[5] for r in _rows() if r[0] == "created")
    events = db.session.execute(
        select(func.count()).select_from(ReportingEvent).where(ReportingEvent.kind == "created")
    ).scalar()
    db.session.rollback()
    return rolled, events


def test_a_transaction_writes_them_at_its_end_and_a_savepoint_takes_its_own(app, desk):
    data = {"customer": desk["ada"].id, "subject": "Help", "channel": "email"}
    _open(desk, desk["ann"], "email", utc(24, 8))

    def three_and_one_undone():
        services.open_ticket(data, desk["admin"])
        with pytest.raises(RuntimeError), db.session.begin_nested():
            services.open_ticket(data, desk["admin"])
            db.session.flush()
            raise RuntimeError("undone: this ticket and its event, and no more")
        services.open_ticket(data, desk["admin"])
        with db.session.begin_nested():
            services.open_ticket(data, desk["admin"])

    _at(utc(24, 8, 30), three_and_one_undone)
    assert _created() == (4, 4)
    if db.engine.dialect.name != "postgresql":  # (SQLite: one writer at a time anyway)
        return
    # A flushed, uncommitted new ticket holds no lock on the hour's shared rollup row:
    # another writer (a second ingest worker) updates it without waiting (issue 20).
    with time_machine.travel(utc(24, 8, 40), tick=False), unit_of_work.write_phase():
        services.open_ticket(data, desk["admin"])
        db.session.flush()
        with db.engine.connect() as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            touched = other.execute(
                text("UPDATE reporting_rollups SET count = count WHERE kind = 'created'")
            ).rowcount
            other.commit()
        assert touched == 2  # (Support's and no team's)
        unit_of_work.commit()
    assert _created() == (5, 5)
