"""reporting durations: histograms of first response and resolution times per UTC ten-day
period, team, agent and bucket, and per agent the solved tickets and survey answers per
period (both backfilled from the reporting events)

Revision ID: h2q0001
Revises: h2w0002
"""

import sqlalchemy as sa
from alembic import op

revision = "h2q0001"
down_revision = "h2w0002"
branch_labels = None
depends_on = None

# The bucket of a duration in seconds (reports.durations.bucket): the nearest whole minute
# below an hour, the middle of its 10 minutes below a day, of its hour below a week, else
# of its day.
BUCKET = (
    "CASE WHEN value < 3600 THEN (value + 30) / 60 * 60"
    " WHEN value < 86400 THEN value / 600 * 600 + 300"
    " WHEN value < 604800 THEN value / 3600 * 3600 + 1800"
    " ELSE value / 86400 * 86400 + 43200 END"
)


def upgrade():
    op.create_table(
        "reporting_durations",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("period", sa.Date(), primary_key=True),
        sa.Column("team_id", sa.Integer(), primary_key=True),
        sa.Column("agent_id", sa.Integer(), primary_key=True),
        sa.Column("bucket", sa.Integer(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_reporting_durations_read",
        "reporting_durations",
        ["kind", "period", "team_id", "agent_id", "bucket", "count"],
    )
    if op.get_bind().dialect.name == "postgresql":
        utc = "timezone('UTC', at)"
        dom = f"CAST(extract(day FROM {utc}) AS INTEGER)"
        period = (
            f"make_date(CAST(extract(year FROM {utc}) AS INTEGER),"
            f" CAST(extract(month FROM {utc}) AS INTEGER),"
            f" CASE WHEN {dom} <= 10 THEN 1 WHEN {dom} <= 20 THEN 11 ELSE 21 END)"
        )
    else:  # the text SQLAlchemy stores a SQLite DateTime (and Date) as
        period = (
            "substr(at, 1, 8) || CASE WHEN substr(at, 9, 2) <= '10' THEN '01'"
            " WHEN substr(at, 9, 2) <= '20' THEN '11' ELSE '21' END"
        )
    agent = "CASE WHEN kind = 'first_response' THEN COALESCE(agent_id, 0) ELSE 0 END"
    op.execute(
        "INSERT INTO reporting_durations (kind, period, team_id, agent_id, bucket, count)"
        f" SELECT kind, {period}, COALESCE(team_id, 0), {agent}, {BUCKET}, COUNT(*)"
        " FROM reporting_events"
        " WHERE kind IN ('first_response', 'solved') AND value IS NOT NULL"
        f" GROUP BY kind, {period}, COALESCE(team_id, 0), {agent}, {BUCKET}"
    )
    op.create_table(
        "reporting_agent_periods",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("period", sa.Date(), primary_key=True),
        sa.Column("team_id", sa.Integer(), primary_key=True),
        sa.Column("agent_id", sa.Integer(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO reporting_agent_periods (kind, period, team_id, agent_id, count, total)"
        f" SELECT kind, {period}, COALESCE(team_id, 0), agent_id, COUNT(*),"
        " COALESCE(SUM(value), 0) FROM reporting_events"
        " WHERE kind IN ('solved', 'survey') AND agent_id IS NOT NULL"
        f" GROUP BY kind, {period}, COALESCE(team_id, 0), agent_id"
    )


def downgrade():
    op.drop_table("reporting_agent_periods")
    op.drop_index("ix_reporting_durations_read", "reporting_durations")
    op.drop_table("reporting_durations")
