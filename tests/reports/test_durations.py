"""The percentiles from the duration histograms: a range's whole ten-day periods read the
histograms (each duration as its bucket), the days at its ends the events (exactly); the
flush keeps the histograms as a rebuild makes them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.reports import durations, figures, rollups
from helpdesk.reports import scope as scopes
from helpdesk.reports.models import ReportingDuration
from tests.reports.conftest import _at, _open, _reply, _status, utc


def _histograms() -> list[tuple]:
    db.session.rollback()
    return sorted(
        (r.kind, r.period, r.team_id, r.agent_id, r.bucket, r.count)
        for r in db.session.execute(select(ReportingDuration)).scalars()
        if r.count
    )


def _overview(viewer, first: str, last: str, tz: str, histograms: bool = True):
    with time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=UTC), tick=False):
        scope = scopes.build(viewer, first, last, tz)
        scope.rollups = histograms
        return figures.overview(scope)


def test_buckets_and_periods():
    assert [durations.bucket(s) for s in (0, 29, 31, 599, 3599)] == [0, 0, 60, 600, 3600]
    assert durations.bucket(3600) == 3900  # 60-70 minutes: 65
    assert durations.bucket(93_600) == 95_400  # 26 h: 26 h 30
    assert durations.bucket(8 * 86_400 + 5) == 8 * 86_400 + 43_200
    assert durations.period_of(date(2026, 10, 31)) == date(2026, 10, 21)
    assert durations.next_period(date(2026, 12, 21)) == date(2027, 1, 1)
    # Berlin's Oct 21 - Nov 11: from Oct 20, 22:00 UTC to Nov 11, 23:00 UTC.
    since, until = datetime(2026, 10, 20, 22, tzinfo=UTC), datetime(2026, 11, 11, 23, tzinfo=UTC)
    assert durations.whole_periods(since, until) == (date(2026, 10, 21), date(2026, 11, 11))
    assert durations.whole_periods(since, datetime(2026, 10, 31, tzinfo=UTC)) is None
    assert durations.percentile({600: 1, 1800: 1, 3900: 1, 7500: 1}, 0.9) == 3900 + 0.7 * 3600
    assert durations.percentile({5: 3, 1: 1}, 0.5) == 5 and durations.percentile({}, 0.5) is None


def test_whole_periods_read_the_histograms_and_the_ends_the_events(app, desk, history):
    admin, ann = desk["admin"], desk["ann"]
    # The history (Oct 24-26) lies in the whole period Oct 21-31: bucketed.
    report = _overview(admin, "2026-10-20", "2026-11-02", "UTC")
    assert report["first_response_minutes"] == {"median": 47.5, "p90": 107.0}
    assert report["resolution_minutes"] == {"median": 917.5, "p90": 1842.0}
    medians = {a["agent"]["name"]: a["first_response_minutes_median"] for a in report["by_agent"]}
    assert medians == {"Ann": 37.5, "Lena": 125.0, "Bob": 30.0}
    exact = _overview(admin, "2026-10-20", "2026-11-02", "UTC", histograms=False)
    assert exact["first_response_minutes"] == {"median": 45.0, "p90": 102.0}
    solved = [(a["agent"]["name"], a["solved"], a["csat_average"]) for a in report["by_agent"]]
    assert solved == [
        (a["agent"]["name"], a["solved"], a["csat_average"]) for a in exact["by_agent"]
    ]
    assert solved == [("Ann", 2, None), ("Lena", 2, None), ("Bob", 0, None)]
    # A ticket on the range's last day (not in a whole period): read from the events.
    late = _open(desk, ann, "email", datetime(2026, 11, 2, 9, tzinfo=UTC))
    _reply(late, ann, datetime(2026, 11, 2, 9, 7, tzinfo=UTC))
    report = _overview(admin, "2026-10-20", "2026-11-02", "UTC")
    assert report["first_response_minutes"]["median"] == 30.0  # 7, 10, [30], 65, 125
    medians = {a["agent"]["name"]: a["first_response_minutes_median"] for a in report["by_agent"]}
    assert medians["Ann"] == 10.0  # 7, 10, 65
    _status(late, ann, "solved", datetime(2026, 11, 2, 10, tzinfo=UTC))  # at the end
    report = _overview(admin, "2026-10-20", "2026-11-02", "UTC")
    assert [(a["agent"]["name"], a["solved"]) for a in report["by_agent"]][0] == ("Ann", 3)
    # A lead's view reads them too (their team only); an agent's own view the events.
    lead = _overview(desk["lead"], "2026-10-20", "2026-11-02", "UTC")
    assert lead["first_response_minutes"]["median"] == 37.5  # 7, 10, 65, 125
    own = _overview(ann, "2026-10-20", "2026-11-02", "UTC")
    assert own["first_response_minutes"]["median"] == 10.0  # 7, 10, 60: exact


def test_the_flush_keeps_the_histograms_as_a_rebuild_makes_them(app, desk, history):
    late = _open(desk, desk["bob"], "chat", utc(30, 23, 50))
    _reply(late, desk["bob"], datetime(2026, 11, 1, 1, tzinfo=UTC))  # in the next period
    _status(late, desk["bob"], "solved", datetime(2026, 11, 9, 2, tzinfo=UTC))
    kept = _histograms()
    assert sum(row[5] for row in kept) == 4 + 4 + 2
    assert {row[1] for row in kept} == {date(2026, 10, 21), date(2026, 11, 1)}
    _at(utc(27, 9), lambda: rollups.rebuild(db.session()))
    assert _histograms() == kept
