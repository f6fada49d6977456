"""imports: uploaded CSV files, their mapping, progress and report

Revision ID: h16f0001
Revises: h16d0002
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h16f0001"
down_revision = "h16d0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("content", sa.Text()),
        sa.Column("report", sa.Text()),
        sa.Column("error", sa.String(500)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
    )
    op.create_index("ix_imports_agent_created", "imports", ["agent_id", "created_at"])


def downgrade():
    op.drop_table("imports")
