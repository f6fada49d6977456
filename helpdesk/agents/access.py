"""Who may see which ticket: one rule for lists, single reads and realtime rooms.

Admins see everything; everyone sees tickets of no team and tickets assigned
to them; agents and leads see their teams' tickets.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select, true

from helpdesk.customers.models import Customer, Organization
from helpdesk.errors import NotFound
from helpdesk.tickets.models import Ticket


def ticket_filter(agent, among_few: bool = False):
    """A SQL condition selecting the tickets ``agent`` may see.

    ``among_few``: the query finds its tickets by another index (one customer's, a few
    hundred at most) and this only sorts them out. Team ids are never 0, so "no team or
    one of mine" is then ``coalesce(team_id, 0) IN (0, mine)``, which no index answers:
    PostgreSQL filters the few instead of also reading thousands of entries of the team
    indexes to intersect with them.
    """
    if agent.is_admin:
        return true()
    if among_few:
        return or_(
            func.coalesce(Ticket.team_id, 0).in_([0, *agent.team_ids]),
            Ticket.assignee_id == agent.id,
        )
    conditions = [Ticket.team_id.is_(None), Ticket.assignee_id == agent.id]
    if agent.team_ids:
        conditions.append(Ticket.team_id.in_(agent.team_ids))
    return or_(*conditions)


def can_see_ticket(agent, ticket: Ticket) -> bool:
    """Whether ``agent`` may open ``ticket``."""
    return (
        agent.is_admin
        or ticket.team_id is None
        or ticket.assignee_id == agent.id
        or ticket.team_id in agent.team_ids
    )


def visible_ticket(agent, ticket: Ticket | None) -> Ticket:
    """``ticket`` if ``agent`` may see it; otherwise NotFound (never reveal it exists)."""
    if ticket is None or not can_see_ticket(agent, ticket):
        raise NotFound("no such ticket")
    return ticket


def customer_filter(agent):
    """A SQL condition selecting the customers ``agent`` may see.

    Everyone sees every customer, except account managers (``own_accounts_only``): they
    see the customers they manage, directly or as the manager of the customer's
    organization.
    """
    if not agent.own_accounts_only:
        return true()
    managed_orgs = select(Organization.id).where(Organization.account_manager_id == agent.id)
    return or_(
        Customer.account_manager_id == agent.id,
        Customer.organization_id.in_(managed_orgs),
    )


def organization_filter(agent):
    """A SQL condition selecting the organizations ``agent`` may see (account managers:
    the ones they manage)."""
    if not agent.own_accounts_only:
        return true()
    return Organization.account_manager_id == agent.id
