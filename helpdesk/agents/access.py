"""Who may see what: one rule per kind of thing, for lists, single reads, exports and
realtime rooms alike.

Tickets: admins see every ticket; everyone sees tickets of no team and tickets assigned
to them; agents and leads see their teams' tickets.

Account managers (``Agent.own_accounts_only``, any role): they see only the customers
they manage, directly (``customers.account_manager_id``) or as the manager of the
customer's organization, and the organizations they manage. What belongs to a customer
(tickets, messages, calls, orders, notes) they see only when the customer is theirs,
and the ticket rule above still applies on top: the flag only ever narrows what the
agent's role and teams show, it never opens another team's tickets. A call from an
unknown number (no customer) is nobody's account: it never reaches an account manager.
Whatever is outside the rule answers 404, as if it did not exist (``visible_*``).
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select, true

from helpdesk.agents.models import Agent
from helpdesk.customers.models import Customer, Order, Organization
from helpdesk.errors import NotFound
from helpdesk.extensions import db
from helpdesk.tickets.models import Call, Ticket

T = TypeVar("T")


def _team_rule(agent, among_few: bool):
    """The SQL condition of the ticket rule by role and teams (see ``ticket_filter``)."""
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


def ticket_filter(agent, among_few: bool = False) -> ColumnElement[bool]:
    """A SQL condition selecting the tickets ``agent`` may see.

    ``among_few``: the query finds its tickets by another index (one customer's, a few
    hundred at most) and this only sorts them out. Team ids are never 0, so "no team or
    one of mine" is then ``coalesce(team_id, 0) IN (0, mine)``, which no index answers:
    PostgreSQL filters the few instead of also reading thousands of entries of the team
    indexes to intersect with them.

    An account manager's tickets are, besides, those of their customers: ``customer_id
    IN`` the (indexed) set of customers they manage.
    """
    rule = _team_rule(agent, among_few)
    if not agent.own_accounts_only:
        return rule
    return and_(rule, accounts_filter(agent))


def accounts_filter(agent) -> ColumnElement[bool]:
    """The customer half of the ticket rule alone: tickets of customers ``agent`` may see
    (every ticket, unless an account manager). For queries that already hold the team
    half, such as a lead's board of their own team."""
    if not agent.own_accounts_only:
        return true()
    return Ticket.customer_id.in_(managed_customer_ids(agent))


def can_see_ticket(agent, ticket: Ticket) -> bool:
    """Whether ``agent`` may open ``ticket`` (the ticket's customer is loaded with it)."""
    by_team = (
        agent.is_admin
        or ticket.team_id is None
        or ticket.assignee_id == agent.id
        or ticket.team_id in agent.team_ids
    )
    return by_team and (not agent.own_accounts_only or can_see_customer(agent, ticket.customer))


def _visible(row: T | None, allowed: bool, what: str) -> T:
    """``row`` when allowed; otherwise NotFound, the same as for a row that does not exist."""
    if row is None or not allowed:
        raise NotFound(f"no such {what}")
    return row


def visible_ticket(agent, ticket: Ticket | None) -> Ticket:
    """``ticket`` if ``agent`` may see it; otherwise NotFound (never reveal it exists)."""
    return _visible(ticket, ticket is not None and can_see_ticket(agent, ticket), "ticket")


def can_see_attachment(agent, attachment) -> bool:
    """An attachment is seen by whoever may see its message's ticket."""
    return can_see_ticket(agent, attachment.message.ticket)


# --- customers and organizations ---------------------------------------------------


def customer_filter(agent) -> ColumnElement[bool]:
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


def managed_customer_ids(agent):
    """A select of the ids of the customers ``agent`` may see (for ``IN``)."""
    return select(Customer.id).where(customer_filter(agent))


def customer_ids_filter(agent, *columns) -> ColumnElement[bool]:
    """A SQL condition on rows that name customers by id (``columns``): every one of them
    is a customer ``agent`` may see (any row, unless an account manager). For rows of
    several customers at once, such as a pair of likely duplicates."""
    if not agent.own_accounts_only:
        return true()
    managed = managed_customer_ids(agent)
    return and_(*(column.in_(managed) for column in columns))


def managers(customer: Customer | None) -> set[int]:
    """The agents who manage ``customer``: theirs and their organization's manager."""
    if customer is None:
        return set()
    found = {customer.account_manager_id}
    if customer.organization is not None:
        found.add(customer.organization.account_manager_id)
    return {agent_id for agent_id in found if agent_id is not None}


def can_see_customer(agent, customer: Customer | None) -> bool:
    """Whether ``agent`` may see ``customer`` (its organization is loaded with it)."""
    if customer is None:
        return False
    return not agent.own_accounts_only or agent.id in managers(customer)


def visible_customer(agent, customer: Customer | None) -> Customer:
    """``customer`` if ``agent`` may see them; otherwise NotFound."""
    return _visible(customer, can_see_customer(agent, customer), "customer")


def organization_filter(agent) -> ColumnElement[bool]:
    """A SQL condition selecting the organizations ``agent`` may see (account managers:
    the ones they manage)."""
    if not agent.own_accounts_only:
        return true()
    return Organization.account_manager_id == agent.id


def can_see_organization(agent, org: Organization | None) -> bool:
    """Whether ``agent`` may see ``org``."""
    return org is not None and (not agent.own_accounts_only or org.account_manager_id == agent.id)


def visible_organization(agent, org: Organization | None) -> Organization:
    """``org`` if ``agent`` may see it; otherwise NotFound."""
    return _visible(org, can_see_organization(agent, org), "organization")


# --- what belongs to a customer: orders and calls ------------------------------------


def order_filter(agent) -> ColumnElement[bool]:
    """A SQL condition selecting the orders ``agent`` may see: their customers'."""
    if not agent.own_accounts_only:
        return true()
    return Order.customer_id.in_(managed_customer_ids(agent))


def visible_order(agent, order: Order | None) -> Order:
    """``order`` if ``agent`` may see its customer; otherwise NotFound."""
    allowed = order is not None and (
        not agent.own_accounts_only or can_see_customer(agent, order.customer)
    )
    return _visible(order, allowed, "order")


def call_filter(agent) -> ColumnElement[bool]:
    """A SQL condition selecting the calls ``agent`` may see by their customer (account
    managers: their customers' calls; never an unknown caller's). Calls filed on a
    ticket are, besides, subject to the ticket rule (``customers.history``)."""
    if not agent.own_accounts_only:
        return true()
    return Call.customer_id.in_(managed_customer_ids(agent))


def can_see_call(agent, call: Call) -> bool:
    """Whether ``agent`` may see ``call`` by its customer (see ``call_filter``)."""
    if not agent.own_accounts_only:
        return True
    customer = db.session.get(Customer, call.customer_id) if call.customer_id else None
    return can_see_customer(agent, customer)


def visible_call(agent, call: Call | None) -> Call:
    """``call`` if ``agent`` may see it; otherwise NotFound (never reveal it exists)."""
    return _visible(call, call is not None and can_see_call(agent, call), "call")


def campaign_rule():
    """SQL: the agents who work with campaigns (their pages, API and live progress):
    active leads and admins who see every customer (a campaign goes to a whole segment)."""
    return and_(
        Agent.active.is_(True),
        Agent.role.in_(("lead", "admin")),
        Agent.own_accounts_only.is_(False),
    )


def can_use_campaigns(agent) -> bool:
    """Whether ``agent`` may see, write and send campaigns (see ``campaign_rule``)."""
    return bool(
        agent is not None
        and getattr(agent, "active", False)
        and agent.role in ("lead", "admin")
        and not agent.own_accounts_only
    )
