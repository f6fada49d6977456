"""team assignment mode and round-robin pointer

Revision ID: 7a55a1gn0001
Revises: 6adb05c3ede4
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "7a55a1gn0001"
down_revision = "6adb05c3ede4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignment", sa.String(length=20), nullable=False,
                                      server_default="manual"))
        batch_op.add_column(sa.Column("last_assigned_agent_id", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_column("last_assigned_agent_id")
        batch_op.drop_column("assignment")
