"""delivery retries: a reply's send attempts, its claim while sending, its next attempt

Revision ID: h15d0001
Revises: h15b0001
"""

import sqlalchemy as sa
from alembic import op

import helpdesk.db

revision = "h15d0001"
down_revision = "h15b0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("send_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("sending_since", helpdesk.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("next_attempt_at", helpdesk.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_messages_status_next_attempt", ["status", "next_attempt_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_status_next_attempt")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("sending_since")
        batch_op.drop_column("send_attempts")
