"""the CRM's tables and columns: addresses, account managers, consents, custom field
definitions, segments, the audit log; agents who see only their own accounts

Revision ID: h16a0001
Revises: h15d0002
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h16a0001"
down_revision = "h15d0002"
branch_labels = None
depends_on = None

ADDRESS = ("street", 200), ("postcode", 20), ("city", 100), ("country", 2)


def upgrade():
    with op.batch_alter_table("agents") as batch:
        batch.add_column(
            sa.Column("own_accounts_only", sa.Boolean(), nullable=False, server_default="false")
        )
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("industry", sa.String(100)))
        for name, length in ADDRESS:
            batch.add_column(sa.Column(name, sa.String(length)))
        batch.add_column(sa.Column("custom_fields", sa.JSON()))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("account_manager_id", sa.Integer()))
        for name, length in ADDRESS:
            batch.add_column(sa.Column(name, sa.String(length)))
        batch.create_foreign_key(
            "fk_customers_account_manager_id_agents",
            "agents",
            ["account_manager_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_customers_account_manager_id", ["account_manager_id"])
        batch.create_index("ix_customers_city", ["city"])
        batch.create_index("ix_customers_country", ["country"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("custom_fields", sa.JSON()))
    # Rows that exist carry no values yet: an empty object, then the column is required.
    for table in ("organizations", "tickets"):
        op.execute(f"UPDATE {table} SET custom_fields = '{{}}'")
        with op.batch_alter_table(table) as batch:
            batch.alter_column("custom_fields", existing_type=sa.JSON(), nullable=False)

    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("purpose", sa.String(30), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(200)),
        sa.UniqueConstraint("customer_id", "purpose"),
    )
    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("type", sa.String(10), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("applies_to", sa.String(20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("applies_to", "key"),
    )
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="CASCADE")),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_segments_owner_id", "segments", ["owner_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("object_type", sa.String(30)),
        sa.Column("object_id", sa.Integer()),
        sa.Column("customer_id", sa.Integer()),
        sa.Column("before", sa.JSON()),
        sa.Column("after", sa.JSON()),
        sa.Column("ip", sa.String(45)),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_object", "audit_events", ["object_type", "object_id"])
    op.create_index("ix_audit_events_customer_at", "audit_events", ["customer_id", "at"])
    op.create_index("ix_audit_events_agent_at", "audit_events", ["agent_id", "at"])
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "at"])


def downgrade():
    op.drop_table("audit_events")
    op.drop_table("segments")
    op.drop_table("custom_field_definitions")
    op.drop_table("consents")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("custom_fields")
    with op.batch_alter_table("customers") as batch:
        batch.drop_index("ix_customers_country")
        batch.drop_index("ix_customers_city")
        batch.drop_index("ix_customers_account_manager_id")
        batch.drop_constraint("fk_customers_account_manager_id_agents", type_="foreignkey")
        batch.drop_column("account_manager_id")
        for name, _length in ADDRESS:
            batch.drop_column(name)
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("custom_fields")
        for name, _length in ADDRESS:
            batch.drop_column(name)
        batch.drop_column("industry")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("own_accounts_only")
