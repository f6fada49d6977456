"""Who may see which ticket: one rule for lists, single reads and realtime rooms.

Admins see everything; everyone sees tickets of no team and tickets assigned
to them; agents and leads see their teams' tickets.
"""
from __future__ import annotations

from sqlalchemy import or_, true

from ..errors import NotFound
from ..tickets.models import Ticket


def ticket_filter(agent):
    """A SQL condition selecting the tickets ``agent`` may see."""
    if agent.is_admin:
        return true()
    conditions = [Ticket.team_id.is_(None), Ticket.assignee_id == agent.id]
    if agent.team_ids:
        conditions.append(Ticket.team_id.in_(agent.team_ids))
    return or_(*conditions)


def can_see_ticket(agent, ticket: Ticket) -> bool:
    """Whether ``agent`` may open ``ticket``."""
    return (agent.is_admin or ticket.team_id is None or ticket.assignee_id == agent.id
            or ticket.team_id in agent.team_ids)


def visible_ticket(agent, ticket: Ticket | None) -> Ticket:
    """``ticket`` if ``agent`` may see it; otherwise NotFound (never reveal it exists)."""
    if ticket is None or not can_see_ticket(agent, ticket):
        raise NotFound("no such ticket")
    return ticket
