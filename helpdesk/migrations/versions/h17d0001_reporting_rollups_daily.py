"""reporting rollups per UTC day: the hourly rollups summed per day (backfilled from them)

Revision ID: h17d0001
Revises: h16u0001
"""

import sqlalchemy as sa
from alembic import op

revision = "h17d0001"
down_revision = "h16u0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reporting_rollups_daily",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("team_id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(10), primary_key=True),
        sa.Column("detail", sa.String(20), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        day = "CAST(timezone('UTC', hour) AS DATE)"
    else:  # the text SQLAlchemy stores a SQLite DateTime (and Date) as
        day = "date(hour)"
    op.execute(
        "INSERT INTO reporting_rollups_daily (kind, day, team_id, channel, detail, count,"
        " total, satisfied)"
        f" SELECT kind, {day}, team_id, channel, detail, SUM(count), SUM(total),"
        " SUM(satisfied) FROM reporting_rollups"
        f" GROUP BY kind, {day}, team_id, channel, detail"
    )


def downgrade():
    op.drop_table("reporting_rollups_daily")
