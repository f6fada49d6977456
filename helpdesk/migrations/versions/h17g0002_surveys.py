"""satisfaction surveys, and the answer on the ticket (tickets.csat)

Revision ID: h17g0002
Revises: h17g0001
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h17g0002"
down_revision = "h17g0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("csat", sa.JSON()))
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("rating", sa.Integer()),
        sa.Column("comment", sa.Text()),
        sa.Column("answered_at", UTCDateTime()),
    )
    op.create_index(
        "ix_surveys_customer_channel", "surveys", ["customer_id", "channel", "answered_at"]
    )


def downgrade():
    op.drop_table("surveys")
    # Not in batch mode: SQLite's batch would copy the tickets table and drop the old one,
    # and with foreign keys on that deletes every message (ON DELETE CASCADE).
    op.drop_column("tickets", "csat")
