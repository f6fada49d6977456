"""reporting events: what reports count (created, responses, solved, reopened, SLA met
or breached, survey answers), backfilled from the tickets and messages already stored

Revision ID: h17g0001
Revises: h16c0001
"""

import sqlalchemy as sa
from alembic import op

from helpdesk.db import UTCDateTime

revision = "h17g0001"
down_revision = "h16c0001"
branch_labels = None
depends_on = None


def _seconds(start: str, end: str) -> str:
    """SQL for the whole seconds from ``start`` to ``end``, on this database."""
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST(ROUND(EXTRACT(EPOCH FROM ({end} - {start}))) AS INTEGER)"
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400) AS INTEGER)"


def upgrade():
    op.create_table(
        "reporting_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="SET NULL")),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column(
            "customer_id", sa.Integer(), sa.ForeignKey("customers.id", ondelete="CASCADE")
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("value", sa.Integer()),
        sa.Column("detail", sa.String(20)),
    )
    _backfill()
    # Indexes after the rows: one build instead of millions of inserts into them.
    op.create_index("ix_reporting_events_kind_at", "reporting_events", ["kind", "at"])
    op.create_index(
        "ix_reporting_events_team_kind_at", "reporting_events", ["team_id", "kind", "at"]
    )
    op.create_index(
        "ix_reporting_events_agent_kind_at", "reporting_events", ["agent_id", "kind", "at"]
    )
    op.create_index("ix_reporting_events_customer_at", "reporting_events", ["customer_id", "at"])
    op.create_index("ix_reporting_events_ticket_id", "reporting_events", ["ticket_id"])


def _backfill():
    """The events of what is stored: each ticket's creation, every agent reply, the first
    response and its SLA target, the solve of each ticket solved or closed now and its SLA
    target. (Earlier solves of reopened tickets are not known: the trail's status changes
    say little about the SLA then; the backlog stays right, since a reopened ticket's
    earlier solve and reopening cancel out.)"""
    columns = "kind, ticket_id, team_id, channel, agent_id, customer_id, at, value, detail"
    first_agent = (
        "(SELECT m.author_id FROM messages m WHERE m.ticket_id = t.id AND m.direction = 'out'"
        " AND m.author_kind = 'agent' ORDER BY m.id LIMIT 1)"
    )
    solved_at = "COALESCE(t.solved_at, t.updated_at)"
    statements = [
        f"SELECT 'created', t.id, t.team_id, t.channel, t.assignee_id, t.customer_id,"
        f" t.created_at, NULL, NULL FROM tickets t",
        f"SELECT 'response', m.ticket_id, t.team_id, t.channel, m.author_id, t.customer_id,"
        f" m.created_at, NULL, NULL FROM messages m JOIN tickets t ON t.id = m.ticket_id"
        f" WHERE m.direction = 'out' AND m.author_kind = 'agent'",
        f"SELECT 'first_response', t.id, t.team_id, t.channel, {first_agent}, t.customer_id,"
        f" t.first_response_at, {_seconds('t.created_at', 't.first_response_at')}, NULL"
        f" FROM tickets t WHERE t.first_response_at IS NOT NULL",
        f"SELECT CASE WHEN t.first_response_at <= t.first_response_due THEN 'sla_met'"
        f" ELSE 'sla_breached' END, t.id, t.team_id, t.channel, {first_agent}, t.customer_id,"
        f" t.first_response_at, NULL, 'first_response' FROM tickets t"
        f" WHERE t.first_response_at IS NOT NULL AND t.first_response_due IS NOT NULL",
        f"SELECT 'solved', t.id, t.team_id, t.channel, t.assignee_id, t.customer_id,"
        f" {solved_at}, {_seconds('t.created_at', solved_at)}, NULL FROM tickets t"
        f" WHERE t.status IN ('solved', 'closed')",
        f"SELECT CASE WHEN {solved_at} <= t.resolution_due THEN 'sla_met'"
        f" ELSE 'sla_breached' END, t.id, t.team_id, t.channel, t.assignee_id, t.customer_id,"
        f" {solved_at}, NULL, 'resolution' FROM tickets t"
        f" WHERE t.status IN ('solved', 'closed') AND t.resolution_due IS NOT NULL",
    ]
    for select in statements:
        op.execute(f"INSERT INTO reporting_events ({columns}) {select}")


def downgrade():
    op.drop_table("reporting_events")
