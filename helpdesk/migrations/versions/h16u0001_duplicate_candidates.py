"""duplicate_candidates: the pairs the duplicate finder found at its last run

Revision ID: h16u0001
Revises: h18c0001
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h16u0001"
down_revision = "h18c0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "duplicate_candidates",
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
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("found_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("customer_a_id", "customer_b_id"),
        sa.CheckConstraint("customer_a_id < customer_b_id", name="ck_duplicate_candidates_order"),
    )
    op.create_index(
        "ix_duplicate_candidates_customer_b_id", "duplicate_candidates", ["customer_b_id"]
    )


def downgrade():
    op.drop_index("ix_duplicate_candidates_customer_b_id", "duplicate_candidates")
    op.drop_table("duplicate_candidates")
