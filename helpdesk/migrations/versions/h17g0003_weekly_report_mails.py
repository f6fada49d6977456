"""weekly report mails: who wants them (leads by default) and the last week sent

Revision ID: h17g0003
Revises: h17g0002
"""

import sqlalchemy as sa
from alembic import op

revision = "h17g0003"
down_revision = "h17g0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "weekly_report_mails",
        sa.Column(
            "agent_id",
            sa.Integer(),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("wanted", sa.Boolean()),
        sa.Column("last_week", sa.String(8)),
    )


def downgrade():
    op.drop_table("weekly_report_mails")
