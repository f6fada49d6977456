"""duplicate_dismissals: customer pairs an agent said are not the same person

Revision ID: h16d0001
Revises: h16aa001
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h16d0001"
down_revision = "h16aa001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "duplicate_dismissals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "customer_a_id",
            sa.Integer(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "customer_b_id",
            sa.Integer(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("customer_a_id", "customer_b_id"),
        sa.CheckConstraint("customer_a_id < customer_b_id", name="ck_duplicate_dismissals_order"),
    )
    op.create_index(
        "ix_duplicate_dismissals_customer_b_id", "duplicate_dismissals", ["customer_b_id"]
    )


def downgrade():
    op.drop_index("ix_duplicate_dismissals_customer_b_id", "duplicate_dismissals")
    op.drop_table("duplicate_dismissals")
