"""MailChimp: segments kept in sync with MailChimp audiences

Revision ID: h2w0002
Revises: h2w0001
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h2w0002"
down_revision = "h2w0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mailchimp_audiences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "segment_id",
            sa.Integer(),
            sa.ForeignKey("segments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("list_id", sa.String(100), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_synced_at", UTCDateTime()),
        sa.Column("last_result", sa.JSON()),
        sa.UniqueConstraint("segment_id", "list_id"),
    )
    op.create_index("ix_mailchimp_audiences_list_id", "mailchimp_audiences", ["list_id"])


def downgrade():
    op.drop_table("mailchimp_audiences")
