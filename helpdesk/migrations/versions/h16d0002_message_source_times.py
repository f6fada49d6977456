"""message_sources.created_at: raw sources are dropped after HELPDESK_RAW_RETENTION_DAYS

Existing sources take their message's time.

Revision ID: h16d0002
Revises: h16d0001
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h16d0002"
down_revision = "h16d0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("message_sources") as batch:
        batch.add_column(sa.Column("created_at", UTCDateTime()))
    op.execute(
        "UPDATE message_sources SET created_at = (SELECT messages.created_at FROM messages "
        "WHERE messages.id = message_sources.message_id)"
    )
    with op.batch_alter_table("message_sources") as batch:
        batch.alter_column("created_at", existing_type=UTCDateTime(), nullable=False)
        batch.create_index("ix_message_sources_created_at", ["created_at"])


def downgrade():
    with op.batch_alter_table("message_sources") as batch:
        batch.drop_index("ix_message_sources_created_at")
        batch.drop_column("created_at")
