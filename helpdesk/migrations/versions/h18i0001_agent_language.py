"""agents: the UI's language and time zone, each agent's own choice

Revision ID: h18i0001
Revises: h17g0003
"""

import sqlalchemy as sa
from alembic import op

revision = "h18i0001"
down_revision = "h17g0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("language", sa.String(5)))
        batch.add_column(sa.Column("timezone", sa.String(64)))


def downgrade():
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("timezone")
        batch.drop_column("language")
