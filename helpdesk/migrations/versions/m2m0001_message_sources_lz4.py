"""message_sources.raw compressed with lz4 instead of pglz (PostgreSQL 14+ built with lz4;
elsewhere nothing changes): the raw mail of every inbound message is compressed as it is
stored, and pglz cost the server some 0.45 ms of CPU a mail of issue 20's benchmark
(17 KiB on average), lz4 0.15 ms, for slightly less space. Rows stored before keep
their compression (both are read alike).

Revision ID: m2m0001
Revises: h2r0001
"""

from alembic import op
from sqlalchemy import text

revision = "m2m0001"
down_revision = "h2r0001"
branch_labels = None
depends_on = None


def _lz4_available() -> bool:
    """Whether the server can compress with lz4 (an option of its build)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    row = bind.execute(
        text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    ).first()
    return row is not None and "lz4" in (row[0] or [])


def upgrade():
    if _lz4_available():
        op.execute("ALTER TABLE message_sources ALTER COLUMN raw SET COMPRESSION lz4")


def downgrade():
    if _lz4_available():
        op.execute("ALTER TABLE message_sources ALTER COLUMN raw SET COMPRESSION default")
