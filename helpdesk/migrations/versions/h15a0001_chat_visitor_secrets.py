"""chat visitors: a per-visitor secret (its SHA-256 only), mailbox confirmation; customers'
unverified email (typed into the chat, never an identity)

Revision ID: h15a0001
Revises: 7a55ordu0004
Create Date: 2026-12-06 08:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import helpdesk.db


# revision identifiers, used by Alembic.
revision = "h15a0001"
down_revision = "7a55ordu0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "chat_visitors",
        sa.Column("visitor", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("confirm_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", helpdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("visitor", name=op.f("pk_chat_visitors")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unverified_email", sa.String(length=320), nullable=True))


def downgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("unverified_email")
    op.drop_table("chat_visitors")
