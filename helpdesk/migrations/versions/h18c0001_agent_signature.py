"""agents: the signature each agent's email replies end with

Revision ID: h18c0001
Revises: h17r0001
"""

import sqlalchemy as sa
from alembic import op

revision = "h18c0001"
down_revision = "h17r0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("signature", sa.Text()))


def downgrade():
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("signature")
