"""consents replace the customer flags order_updates and sms_opt_out: each true flag
becomes a consent row (order_updates granted; sms_marketing refused by an SMS opt-out),
then the two columns go; the downgrade brings them back from the rows

Revision ID: h16aa001
Revises: h16a0001
"""

import sqlalchemy as sa
from alembic import op

revision = "h16aa001"
down_revision = "h16a0001"
branch_labels = None
depends_on = None

OPT_OUT = "sms opt-out: STOP (before consents)"

customers = sa.table(
    "customers",
    sa.column("id", sa.Integer),
    sa.column("order_updates", sa.Boolean),
    sa.column("sms_opt_out", sa.Boolean),
    sa.column("updated_at", sa.DateTime),
)
consents = sa.table(
    "consents",
    sa.column("customer_id", sa.Integer),
    sa.column("purpose", sa.String),
    sa.column("granted", sa.Boolean),
    sa.column("at", sa.DateTime),
    sa.column("source", sa.String),
)


def _copy(flag, purpose: str, granted: bool, source: str) -> None:
    """One consent row per customer whose ``flag`` is true (and who has none yet)."""
    already = sa.exists().where(
        consents.c.customer_id == customers.c.id, consents.c.purpose == purpose
    )
    rows = sa.select(
        customers.c.id,
        sa.literal(purpose),
        sa.literal(granted),
        customers.c.updated_at,
        sa.literal(source),
    ).where(flag == sa.true(), ~already)
    op.execute(
        consents.insert().from_select(
            ["customer_id", "purpose", "granted", "at", "source"], rows
        )
    )


def upgrade():
    _copy(customers.c.order_updates, "order_updates", True, "before consents")
    _copy(customers.c.sms_opt_out, "sms_marketing", False, OPT_OUT)
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("order_updates")
        batch.drop_column("sms_opt_out")


def downgrade():
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("order_updates", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("sms_opt_out", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    granted = sa.exists().where(
        consents.c.customer_id == customers.c.id,
        consents.c.purpose == "order_updates",
        consents.c.granted == sa.true(),
    )
    stopped = (
        consents.c.customer_id == customers.c.id,
        consents.c.purpose == "sms_marketing",
        consents.c.granted == sa.false(),
        consents.c.source.like("sms opt-out:%"),
    )
    op.execute(customers.update().where(granted).values(order_updates=True))
    op.execute(customers.update().where(sa.exists().where(*stopped)).values(sms_opt_out=True))
    # What the columns now hold: the rows would be copied a second time by an upgrade.
    op.execute(consents.delete().where(consents.c.purpose == "order_updates"))
    op.execute(
        consents.delete().where(
            consents.c.purpose == "sms_marketing",
            consents.c.granted == sa.false(),
            consents.c.source.like("sms opt-out:%"),
        )
    )
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("order_updates", server_default=None)
        batch.alter_column("sms_opt_out", server_default=None)
