"""agents: a phone number that incoming calls ring instead of the browser softphone

Revision ID: h19p0001
Revises: h17d0001
"""

import sqlalchemy as sa
from alembic import op

revision = "h19p0001"
down_revision = "h17d0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("phone", sa.String(32)))


def downgrade():
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("phone")
