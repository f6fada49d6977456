"""The reports' and surveys' tables as the migrations build them agree with the models
(on the database of the run), and migration h17g0001 backfills the reporting events of
tickets and replies stored before it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.reports.models import ReportingEvent

OURS = ("reporting_events", "surveys", "weekly_report_mails")


def _ours(diff) -> bool:
    """Whether an autogenerate difference touches our tables or columns."""
    text = repr(diff)
    return any(name in text for name in OURS) or "csat" in text


def test_the_models_and_the_migrations_agree(app):
    with db.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert [d for d in diffs if _ours(d)] == []


def test_the_migration_backfills_events_from_stored_tickets(app, desk, history):
    def counts():
        rows = db.session.execute(
            select(ReportingEvent.kind, func.count()).group_by(ReportingEvent.kind)
        ).all()
        db.session.rollback()
        return dict(rows)

    recorded = counts()
    db.session.remove()
    downgrade(revision="h16a0001")
    upgrade()
    backfilled = counts()
    # Every creation, reply and first response again; the solves of the tickets solved
    # now (ticket 4's earlier solve and its reopening cancel out, and are not known).
    assert backfilled["created"] == recorded["created"] == 4
    assert backfilled["response"] == recorded["response"] == 4
    assert backfilled["first_response"] == 4
    assert backfilled["solved"] == 3 and recorded["solved"] == 4
    assert backfilled["sla_breached"] + backfilled["sla_met"] == 4 + 3
    values = db.session.execute(
        select(ReportingEvent.value)
        .where(ReportingEvent.kind == "first_response")
        .order_by(ReportingEvent.value)
    ).scalars()
    assert list(values) == [600, 1800, 3600, 7200]
