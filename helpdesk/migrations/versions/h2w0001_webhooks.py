"""outbound webhooks and their deliveries

Revision ID: h2w0001
Revises: h19p0001
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h2w0001"
down_revision = "h19p0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_webhooks_created_by_id", "webhooks", ["created_by_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uid", sa.String(36), nullable=False, unique=True),
        sa.Column(
            "webhook_id",
            sa.Integer(),
            sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("sending_since", UTCDateTime()),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_response", sa.String(500)),
        sa.Column("last_error", sa.String(500)),
        sa.Column("last_duration_ms", sa.Integer()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime()),
        sa.Column("delivered_at", UTCDateTime()),
    )
    op.create_index("ix_webhook_deliveries_webhook", "webhook_deliveries", ["webhook_id", "id"])
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def downgrade():
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
