"""campaigns: a message to a segment, one row per recipient, bounced addresses

Revision ID: h2c0001
Revises: h2q0001
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h2c0001"
down_revision = "h2q0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("segment_id", sa.Integer(), sa.ForeignKey("segments.id", ondelete="SET NULL")),
        sa.Column("mailbox_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="SET NULL")),
        sa.Column("subject", sa.String(300)),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column("sent_by_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column("scheduled_at", UTCDateTime(timezone=True)),
        sa.Column("started_at", UTCDateTime(timezone=True)),
        sa.Column("finished_at", UTCDateTime(timezone=True)),
        sa.Column("heartbeat_at", UTCDateTime(timezone=True)),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaigns_segment_id", "campaigns", ["segment_id"])
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="SET NULL")),
        sa.Column("address", sa.String(320)),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(timezone=True)),
        sa.Column("sent_at", UTCDateTime(timezone=True)),
        sa.Column("provider_id", sa.String(200)),
        sa.Column("error", sa.String(500)),
        sa.Column("unsubscribed_at", UTCDateTime(timezone=True)),
        sa.Column(
            "reply_ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="SET NULL")
        ),
        sa.UniqueConstraint("campaign_id", "customer_id"),
    )
    op.create_index(
        "ix_campaign_recipients_claim", "campaign_recipients", ["campaign_id", "state", "id"]
    )
    op.create_index(
        "ix_campaign_recipients_unsubscribed",
        "campaign_recipients",
        ["campaign_id", "unsubscribed_at"],
    )
    op.create_index("ix_campaign_recipients_customer_id", "campaign_recipients", ["customer_id"])
    op.create_index("ix_campaign_recipients_address", "campaign_recipients", ["address"])
    op.create_index("ix_campaign_recipients_provider_id", "campaign_recipients", ["provider_id"])
    op.create_index(
        "ix_campaign_recipients_reply_ticket_id", "campaign_recipients", ["reply_ticket_id"]
    )
    op.create_table(
        "campaign_bounced_addresses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(320), nullable=False, unique=True),
        sa.Column("reason", sa.String(500)),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("campaign_bounced_addresses")
    op.drop_table("campaign_recipients")
    op.drop_table("campaigns")
