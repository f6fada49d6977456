"""order notifications: proactive order-status updates, once per change

Revision ID: 7a55ordu0004
Revises: 7a55sla00003
Create Date: 2026-12-02 02:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
import helpdesk.db


# revision identifiers, used by Alembic.
revision = "7a55ordu0004"
down_revision = "7a55sla00003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "order_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("previous_status", sa.String(length=20), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", helpdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", helpdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_order_notifications_order_id_orders"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_order_notifications_ticket_id_tickets"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_order_notifications_message_id_messages"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_notifications")),
        sa.UniqueConstraint("order_id", "sequence",
                            name=op.f("uq_order_notifications_order_id_sequence")),
    )
    with op.batch_alter_table("order_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_notifications_ticket_id"), ["ticket_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_order_notifications_message_id"), ["message_id"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("order_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_notifications_message_id"))
        batch_op.drop_index(batch_op.f("ix_order_notifications_ticket_id"))
    op.drop_table("order_notifications")
