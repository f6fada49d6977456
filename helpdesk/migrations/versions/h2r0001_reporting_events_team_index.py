"""reporting_events: drop the (team_id, kind, at) index (the planner reads a lead's events
through the covering (kind, at, value, agent_id, team_id, channel) index; one index less
to write with every event)

Revision ID: h2r0001
Revises: h2c0001
"""

from alembic import op

revision = "h2r0001"
down_revision = "h2c0001"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_reporting_events_team_kind_at", table_name="reporting_events")


def downgrade():
    op.create_index(
        "ix_reporting_events_team_kind_at", "reporting_events", ["team_id", "kind", "at"]
    )
