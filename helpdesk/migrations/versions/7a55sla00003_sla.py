"""SLA policies, business hours per team, due times on tickets, escalation team

Revision ID: 7a55sla00003
Revises: 7a55macr0002
Create Date: 2026-12-02 01:10:00.000000

"""
from alembic import op
import sqlalchemy as sa
import helpdesk.db


# revision identifiers, used by Alembic.
revision = "7a55sla00003"
down_revision = "7a55macr0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("next_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("created_at", helpdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_policies_organization_id"), ["organization_id"],
                              unique=False)
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("escalation_team_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_teams_escalation_team_id_teams", "teams",
                                    ["escalation_team_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_policy_id", sa.Integer(), nullable=True))
        for name in ("first_response_due", "next_response_due", "resolution_due", "sla_due",
                     "sla_paused_at", "sla_started_at", "next_response_from"):
            batch_op.add_column(sa.Column(name, helpdesk.db.UTCDateTime(timezone=True),
                                          nullable=True))
        batch_op.add_column(sa.Column("sla_target", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("sla_stage", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.create_foreign_key("fk_tickets_sla_policy_id_sla_policies", "sla_policies",
                                    ["sla_policy_id"], ["id"], ondelete="SET NULL")
        batch_op.create_index("ix_tickets_sla_scan", ["sla_stage", "sla_due"], unique=False)
        batch_op.create_index("ix_tickets_team_sla", ["team_id", "sla_due"], unique=False)


def downgrade():
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_team_sla")
        batch_op.drop_index("ix_tickets_sla_scan")
        batch_op.drop_constraint("fk_tickets_sla_policy_id_sla_policies", type_="foreignkey")
        for name in ("next_response_from", "sla_started_at", "sla_stage", "sla_target",
                     "sla_paused_at", "sla_due", "resolution_due",
                     "next_response_due", "first_response_due", "sla_policy_id"):
            batch_op.drop_column(name)
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_constraint("fk_teams_escalation_team_id_teams", type_="foreignkey")
        batch_op.drop_column("escalation_team_id")
        batch_op.drop_column("calendar")
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_policies_organization_id"))
    op.drop_table("sla_policies")
