"""The lead's team board: each agent's workload and presence, the team's unassigned
queue, its tickets near or past their SLA; and reassigning many tickets at once.

Every figure is one query for the whole team, never one per agent or per ticket:
the members (one), their open / pending / overdue counts (one grouped query), the
team's totals (one), the queue and the SLA list (one each, tags by one select-in).
Counts and lists stay inside the viewer's access rule (``agents.access``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, case, func, select

from helpdesk.agents import access
from helpdesk.agents.models import Agent, Team, team_members
from helpdesk.db import utcnow
from helpdesk.errors import Forbidden, NotFound
from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.tickets.models import OPEN_STATUSES, Ticket

ROLES = ("lead", "admin")  # who has a board


def may_use(agent) -> bool:
    """Whether ``agent`` has a board (leads and admins)."""
    return agent.role in ROLES


def teams_for(agent) -> list[Team]:
    """The teams ``agent`` may watch on the board: a lead's own, every team for an admin."""
    if agent.is_admin:
        return list(db.session.execute(select(Team).order_by(Team.name).limit(500)).scalars())
    if agent.role != "lead":
        return []
    return sorted(agent.teams, key=lambda team: (team.name, team.id))


def other_teams(team: Team) -> list[Team]:
    """Every team but ``team``, by name: where the board can move tickets to."""
    return list(
        db.session.execute(
            select(Team).where(Team.id != team.id).order_by(Team.name).limit(500)
        ).scalars()
    )


def pick_team(agent, team_id: int | None, choices: list[Team]) -> Team | None:
    """The team to show: ``team_id`` if it is one of ``choices`` (else Forbidden, or
    NotFound when no such team exists), by default the first choice (None: no team)."""
    if team_id is None:
        return choices[0] if choices else None
    chosen = next((team for team in choices if team.id == team_id), None)
    if chosen is not None:
        return chosen
    if 0 < team_id < 2**31 and db.session.get(Team, team_id) is not None:
        raise Forbidden("that is not one of your teams")
    raise NotFound("no such team")


def warn_minutes() -> int:
    """How long before its SLA due time a ticket counts as near (``SLA_WARN_MINUTES``)."""
    return int(current_app.config.get("SLA_WARN_MINUTES", 30))


@dataclass
class Member:
    """One agent's line on the board."""

    agent: Agent
    open: int = 0
    pending: int = 0
    overdue: int = 0


@dataclass
class Board:
    """Everything one board screen shows."""

    team: Team
    now: datetime
    warn_before: datetime
    members: list[Member]
    unassigned: int
    near: int
    overdue: int
    queue: Sequence[Ticket] = field(default_factory=list)
    queue_more: bool = False
    sla: Sequence[Ticket] = field(default_factory=list)
    sla_more: bool = False

    def overdue_ticket(self, ticket: Ticket) -> bool:
        """Whether ``ticket`` is past its SLA due time (the board's clock)."""
        return ticket.sla_due is not None and ticket.sla_due < self.now


def members(team: Team) -> list[Agent]:
    """The team's active agents, by name (one query)."""
    return list(
        db.session.execute(
            select(Agent)
            .join(team_members, team_members.c.agent_id == Agent.id)
            .where(team_members.c.team_id == team.id, Agent.active.is_(True))
            .order_by(func.lower(Agent.name), Agent.id)
            .limit(500)
        )
        .unique()
        .scalars()
    )


def _open_of(viewer):
    """The open tickets ``viewer`` may see."""
    return (Ticket.status.in_(OPEN_STATUSES), access.ticket_filter(viewer))


def workloads(viewer, agent_ids: list[int], now: datetime) -> dict[int, tuple[int, int, int]]:
    """(open, pending, overdue) tickets assigned to each agent, in one grouped query.

    Open is new or open; pending is pending; overdue is any of the three past its SLA
    due time. Counted over what ``viewer`` may see, so a figure never reveals tickets
    of teams the viewer cannot open."""
    if not agent_ids:
        return {}
    rows = db.session.execute(
        select(
            Ticket.assignee_id,
            func.coalesce(func.sum(case((Ticket.status.in_(("new", "open")), 1), else_=0)), 0),
            func.coalesce(func.sum(case((Ticket.status == "pending", 1), else_=0)), 0),
            func.coalesce(func.sum(case((Ticket.sla_due < now, 1), else_=0)), 0),
        )
        .where(Ticket.assignee_id.in_(agent_ids), *_open_of(viewer))
        .group_by(Ticket.assignee_id)
    ).all()
    found = {agent_id: (0, 0, 0) for agent_id in agent_ids}
    found.update({row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows})
    return found


def totals(viewer, team: Team, now: datetime, warn_before: datetime) -> tuple[int, int, int]:
    """The team's open tickets that are unassigned, near or past their SLA, and past it
    (one query; an account manager's: of their customers)."""
    row = db.session.execute(
        select(
            func.coalesce(func.sum(case((Ticket.assignee_id.is_(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((Ticket.sla_due < warn_before, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Ticket.sla_due < now, 1), else_=0)), 0),
        ).where(
            Ticket.team_id == team.id,
            Ticket.status.in_(OPEN_STATUSES),
            access.accounts_filter(viewer),
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _page(query: Select[Ticket], number: int, per_page: int) -> tuple[Sequence[Ticket], bool]:
    result = db.session.execute(query.limit(per_page + 1).offset((number - 1) * per_page))
    rows = result.unique().scalars().all()
    return rows[:per_page], len(rows) > per_page


def queue(viewer, team: Team, number: int, per_page: int) -> tuple[Sequence[Ticket], bool]:
    """The team's unassigned open tickets ``viewer`` may see, oldest first; and whether
    there are more."""
    return _page(
        select(Ticket)
        .where(
            access.accounts_filter(viewer),
            Ticket.team_id == team.id,
            Ticket.assignee_id.is_(None),
            Ticket.status.in_(OPEN_STATUSES),
        )
        .order_by(Ticket.created_at, Ticket.id),
        number,
        per_page,
    )


def near_sla(
    viewer, team: Team, warn_before: datetime, number: int, per_page: int
) -> tuple[Sequence[Ticket], bool]:
    """The team's open tickets ``viewer`` may see due before ``warn_before`` (past due
    included), the most urgent first (``ix_tickets_team_sla``); and whether there are
    more."""
    return _page(
        select(Ticket)
        .where(
            access.accounts_filter(viewer),
            Ticket.team_id == team.id,
            Ticket.sla_due.is_not(None),
            Ticket.sla_due < warn_before,
            Ticket.status.in_(OPEN_STATUSES),
        )
        .order_by(Ticket.sla_due, Ticket.id),
        number,
        per_page,
    )


def board(viewer, team: Team, queue_page: int = 1, sla_page: int = 1, per_page: int = 50) -> Board:
    """The board of ``team`` as ``viewer`` sees it (a fixed number of queries)."""
    now = utcnow()
    warn_before = now + timedelta(minutes=warn_minutes())
    people = members(team)
    loads = workloads(viewer, [a.id for a in people], now)
    unassigned, near, overdue = totals(viewer, team, now, warn_before)
    result = Board(
        team=team,
        now=now,
        warn_before=warn_before,
        members=[Member(a, *loads.get(a.id, (0, 0, 0))) for a in people],
        unassigned=unassigned,
        near=near,
        overdue=overdue,
    )
    result.queue, result.queue_more = queue(viewer, team, queue_page, per_page)
    result.sla, result.sla_more = near_sla(viewer, team, warn_before, sla_page, per_page)
    return result


def reassign(ids: list[int], changes: dict, actor) -> list[Ticket]:
    """Give the tickets ``ids`` to another agent and/or team (``changes``: ``assignee``
    and/or ``team``), each through ``services.update_ticket`` (its permission rules,
    audit trail and ``ticket.updated``); flushes, the caller commits once.

    All or nothing: a ticket ``actor`` may not see (or that does not exist) raises
    NotFound before anything changes, and any refusal raises, so the caller's rollback
    leaves every ticket as it was. The tickets come back in the order of ``ids``."""
    wanted = list(dict.fromkeys(ids))
    # Locked in id order, so that two bulk changes over the same tickets queue, not deadlock.
    found = {
        t.id: t
        for t in db.session.execute(
            select(Ticket)
            .where(Ticket.id.in_(wanted))
            .order_by(Ticket.id)
            .with_for_update(of=Ticket)
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalars()
    }
    missing = [i for i in wanted if i not in found or not access.can_see_ticket(actor, found[i])]
    if missing:
        raise NotFound("no such ticket", fields={"ids": missing})
    return [services.update_ticket(found[i], dict(changes), actor) for i in wanted]
