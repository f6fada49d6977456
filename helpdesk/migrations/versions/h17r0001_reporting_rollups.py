"""reporting rollups: the counted reporting events per UTC hour, kind, team, channel and
detail (backfilled from the events), and a covering index for the durations

Revision ID: h17r0001
Revises: h18n0001
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h17r0001"
down_revision = "h18n0001"
branch_labels = None
depends_on = None

ROLLED = (
    "'created', 'solved', 'reopened', 'team_in', 'team_out', 'sla_met', 'sla_breached', 'survey'"
)


def upgrade():
    op.create_table(
        "reporting_rollups",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("hour", UTCDateTime(), primary_key=True),
        sa.Column("team_id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(10), primary_key=True),
        sa.Column("detail", sa.String(20), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        hour = "timezone('UTC', date_trunc('hour', timezone('UTC', at)))"
    else:  # the text SQLAlchemy stores a SQLite DateTime as
        hour = "strftime('%Y-%m-%d %H:00:00.000000', at)"
    op.execute(
        "INSERT INTO reporting_rollups (kind, hour, team_id, channel, detail, count, total,"
        " satisfied)"
        f" SELECT kind, {hour}, COALESCE(team_id, 0), channel, COALESCE(detail, ''),"
        " COUNT(*), COALESCE(SUM(COALESCE(value, 0)), 0),"
        " SUM(CASE WHEN kind = 'survey' AND COALESCE(value, 0) >= 4 THEN 1 ELSE 0 END)"
        f" FROM reporting_events WHERE kind IN ({ROLLED})"
        f" GROUP BY kind, {hour}, COALESCE(team_id, 0), channel, COALESCE(detail, '')"
    )
    op.drop_index("ix_reporting_events_kind_at", table_name="reporting_events")
    op.create_index(
        "ix_reporting_events_kind_at_value",
        "reporting_events",
        ["kind", "at", "value", "agent_id", "team_id", "channel"],
    )


def downgrade():
    op.drop_index("ix_reporting_events_kind_at_value", table_name="reporting_events")
    op.create_index("ix_reporting_events_kind_at", "reporting_events", ["kind", "at"])
    op.drop_table("reporting_rollups")
