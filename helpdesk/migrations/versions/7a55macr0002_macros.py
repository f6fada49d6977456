"""macros: personal and team canned replies with ticket actions

Revision ID: 7a55macr0002
Revises: 7a55a1gn0001
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
import helpdesk.db


# revision identifiers, used by Alembic.
revision = "7a55macr0002"
down_revision = "7a55a1gn0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "macros",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", helpdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", helpdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(owner_id IS NULL) <> (team_id IS NULL)",
                           name=op.f("ck_macros_one_scope")),
        sa.ForeignKeyConstraint(["owner_id"], ["agents.id"],
                                name=op.f("fk_macros_owner_id_agents"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"],
                                name=op.f("fk_macros_team_id_teams"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["agents.id"],
                                name=op.f("fk_macros_created_by_id_agents"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_macros")),
    )
    with op.batch_alter_table("macros", schema=None) as batch_op:
        batch_op.create_index("ix_macros_owner_name", ["owner_id", "name"], unique=False)
        batch_op.create_index("ix_macros_team_name", ["team_id", "name"], unique=False)


def downgrade():
    with op.batch_alter_table("macros", schema=None) as batch_op:
        batch_op.drop_index("ix_macros_team_name")
        batch_op.drop_index("ix_macros_owner_name")
    op.drop_table("macros")
