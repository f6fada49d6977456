"""tokens and sessions: API token names, scopes, expiry and revocation; agents' session version

Revision ID: h15b0001
Revises: h15a0001
Create Date: 2026-12-06 08:40:00.000000

"""
from alembic import op
import sqlalchemy as sa
import helpdesk.db


# revision identifiers, used by Alembic.
revision = "h15b0001"
down_revision = "h15a0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("name", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("scope", sa.String(length=20), nullable=False, server_default="api")
        )
        batch.add_column(
            sa.Column("expires_at", helpdesk.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("revoked_at", helpdesk.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("agents") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade():
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("session_version")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("expires_at")
        batch.drop_column("scope")
        batch.drop_column("name")
