"""Automatic assignment: a team's new tickets go to one of its online agents.

Each team has a mode (``Team.assignment``):

- ``manual``: nothing happens automatically (the default);
- ``round_robin``: the team's online agents take turns, in the order of their ids,
  going on after ``Team.last_assigned_agent_id``;
- ``least_loaded``: the online agent with the fewest open tickets (new, open,
  pending: one grouped query) below their ``Agent.capacity``; ties take turns like
  round-robin.

Only active agents of the team whose presence is ``online`` (not away, not offline)
are candidates. A ticket nobody can take stays unassigned in the team's queue and is
handed out when an agent of the team comes online (a presence listener, see
``realtime.on_presence_change``), oldest first.

New tickets are assigned by an ingest follow-up job right after the ingest commit.
Every assignment happens under row locks (the team row first, then the ticket rows;
SQLite: ``BEGIN IMMEDIATE``) and re-checks that the ticket is still open, still in
the team and still unassigned, so a ticket that a person (or any other routing)
assigned or moved meanwhile is never touched. The team row lock also makes the
round-robin turn fair across processes. Each assignment is a ``TicketEvent``
"assigned" ``{"from", "to", "why"}`` and a live ``ticket.updated``.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from helpdesk import jobs, unit_of_work
from helpdesk.agents import access
from helpdesk.agents.models import ASSIGNMENT, Agent, Team, team_members
from helpdesk.extensions import db
from helpdesk.realtime import ticket_rooms
from helpdesk.tickets import events
from helpdesk.tickets.models import Message, Ticket

log = logging.getLogger(__name__)
JOB = "helpdesk.automation.assignment:assign_new"
HAND_OUT_JOB = "helpdesk.automation.assignment:came_online"
AUTOMATIC = ("round_robin", "least_loaded")
OPEN = ("new", "open", "pending")
BATCH = 200  # waiting tickets handed out per team and run (the rest at the next chance)


class AssignmentError(ValueError):
    """A mode that does not exist."""


def set_mode(team: Team, mode: str) -> None:
    """Set how the team's tickets are assigned; flushes only. Switching to an automatic
    mode hands out the team's waiting tickets after the commit."""
    if mode not in ASSIGNMENT:
        raise AssignmentError(f"assignment is one of {', '.join(ASSIGNMENT)}")
    team.assignment = mode
    db.session.flush()
    if mode in AUTOMATIC:
        jobs.enqueue(HAND_OUT_JOB, None, team.id)


# ----- choosing an agent -------------------------------------------------------------


def candidates(team: Team) -> list[Agent]:
    """The team's active agents who are online now, by id."""
    return list(
        db.session.execute(
            select(Agent)
            .join(team_members, team_members.c.agent_id == Agent.id)
            .where(
                team_members.c.team_id == team.id,
                Agent.active.is_(True),
                Agent.presence == "online",
            )
            .order_by(Agent.id)
            .execution_options(populate_existing=True)
        ).scalars()
    )


def open_loads(agent_ids: list[int]) -> dict[int, int]:
    """Open tickets (new, open, pending) per agent, in one grouped query."""
    if not agent_ids:
        return {}
    rows = db.session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.in_(agent_ids), Ticket.status.in_(OPEN))
        .group_by(Ticket.assignee_id)
    ).all()
    loads = {agent_id: 0 for agent_id in agent_ids}
    # (no None among the ids: the IN condition leaves unassigned tickets out)
    loads.update({agent_id: count for agent_id, count in rows})  # type: ignore[misc]
    return loads


def _in_turn(agents: list[Agent], last_id: int | None) -> list[Agent]:
    """``agents`` (sorted by id) starting after ``last_id``, wrapping around."""
    if last_id is None:
        return agents
    after = [a for a in agents if a.id > last_id]
    return after + [a for a in agents if a.id <= last_id]


def _pick(team: Team, agents: list[Agent], loads: dict[int, int]) -> Agent | None:
    """The agent the team's mode chooses now, or None when nobody can take a ticket."""
    turn = _in_turn(agents, team.last_assigned_agent_id)
    if team.assignment == "round_robin":
        return turn[0] if turn else None
    free = [a for a in turn if loads.get(a.id, 0) < (a.capacity or 0)]
    if not free:
        return None
    return min(free, key=lambda a: loads.get(a.id, 0))  # min keeps the turn order on ties


# ----- assigning ---------------------------------------------------------------------


def _lock_team(team_id: int) -> Team | None:
    """The team row, locked (the queue's turn and loads are decided by one process)."""
    return (
        db.session.execute(
            select(Team)
            .where(Team.id == team_id)
            .with_for_update(of=Team)
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalar_one_or_none()
    )


def _distribute(team_id: int, ticket_ids: list[int] | None, why: str | None) -> list[int]:
    """Assign the given (or the oldest waiting) unassigned open tickets of the team; return
    the ids of the tickets assigned. Runs and commits its own write transaction."""
    assigned: list[int] = []
    with unit_of_work.write_phase():
        team = _lock_team(team_id)
        if team is None or team.assignment not in AUTOMATIC:
            db.session.rollback()
            return assigned
        query = (
            select(Ticket)
            .where(Ticket.team_id == team.id, Ticket.assignee_id.is_(None), Ticket.status.in_(OPEN))
            .order_by(Ticket.created_at, Ticket.id)
            .limit(BATCH)
            .with_for_update(of=Ticket, skip_locked=ticket_ids is None)
            .execution_options(populate_existing=True)
        )
        if ticket_ids is not None:
            query = query.where(Ticket.id.in_(ticket_ids))
        tickets = db.session.execute(query).unique().scalars().all()
        agents = candidates(team) if tickets else []
        if not agents:
            db.session.rollback()
            if tickets:
                log.info(
                    "team %s: nobody online, %d ticket(s) wait unassigned", team.id, len(tickets)
                )
            return assigned
        loads = open_loads([a.id for a in agents]) if team.assignment == "least_loaded" else {}
        for ticket in tickets:
            # Account managers take only their own customers' tickets (agents.access).
            eligible = [a for a in agents if access.can_see_customer(a, ticket.customer)]
            agent = _pick(team, eligible, loads)
            if agent is None:
                if len(eligible) == len(agents):
                    break  # everyone is at capacity: the rest wait
                continue  # nobody free may see this one's customer: it waits
            before = ticket_rooms(ticket)
            events.record(
                ticket, "assigned", {"from": None, "to": agent.id, "why": why or team.assignment}
            )
            ticket.assignee = agent
            team.last_assigned_agent_id = agent.id
            loads[agent.id] = loads.get(agent.id, 0) + 1
            events.announce_ticket(ticket, previous_rooms=before)
            assigned.append(ticket.id)
        unit_of_work.commit()
    if assigned:
        log.info("team %s: assigned ticket(s) %s (%s)", team_id, assigned, why or "new ticket")
    return assigned


def assign(ticket: Ticket, why: str | None = None) -> int | None:
    """Assign ``ticket`` now if its team assigns automatically and someone can take it;
    return the agent's id (commits)."""
    if ticket.team_id is None:
        return None
    done = _distribute(ticket.team_id, [ticket.id], why)
    if not done:
        return None
    assigned = db.session.get(Ticket, ticket.id)
    assert assigned is not None  # None would fail on the next line anyway
    return assigned.assignee_id


# ----- the ingest follow-up ------------------------------------------------------------


def wanted(message: Message) -> bool:
    """A customer's message that opened a ticket of a team, unassigned (no query: the
    ticket is still in the session's identity map right after ingest)."""
    if message.direction != "in" or message.is_auto or message.author_kind != "customer":
        return False
    ticket = db.session.get(Ticket, message.ticket_id)
    if ticket is None or ticket.team_id is None or ticket.assignee_id is not None:
        return False
    team = db.session.get(Team, ticket.team_id)  # the channel's team: usually loaded already
    if team is None or team.assignment not in AUTOMATIC:
        return False
    return ticket.status == "new" and (ticket.message_count or 0) <= 1


def assign_new(message_id: int) -> None:
    """Job: assign the ticket that message ``message_id`` opened (if it still waits)."""
    message = db.session.get(Message, message_id)
    ticket = db.session.get(Ticket, message.ticket_id) if message is not None else None
    if message is None or ticket is None or ticket.team_id is None:
        db.session.rollback()
        return
    if _bot_undecided(message):
        # The order bot stays quiet on an assigned ticket: let it decide first, whichever
        # worker picked which job up first (its answer job is idempotent: decided once).
        from helpdesk.automation import bot

        db.session.rollback()
        bot.answer(message_id)
    # Everything is checked again under the locks: a person may have assigned it by now.
    _distribute(ticket.team_id, [ticket.id], None)


def _bot_undecided(message: Message) -> bool:
    """Whether the order bot's follow-up may still be waiting to answer ``message``."""
    from helpdesk.automation import bot

    if (message.meta or {}).get("order_bot"):
        return False
    return bot.wanted(message)  # the bot's own in-memory filter (fresh order questions)


# ----- coming online ---------------------------------------------------------------------


def came_online(agent_id: int | None, team_id: int | None = None) -> None:
    """Job: hand out the waiting tickets of the agent's teams (or of one team)."""
    if team_id is not None:
        team_ids = [team_id]
    else:
        team_ids = list(
            db.session.execute(
                select(Team.id)
                .join(team_members, team_members.c.team_id == Team.id)
                .where(team_members.c.agent_id == agent_id, Team.assignment.in_(AUTOMATIC))
                .order_by(Team.id)
            ).scalars()
        )
    db.session.rollback()  # end the read; each team is handed out in a write of its own
    for tid in team_ids:
        _distribute(tid, None, "came_online")


def presence_changed(agent_id: int, status: str) -> None:
    """Presence listener: an agent who comes online (or back from away) may take tickets."""
    if status != "online":
        return
    jobs.enqueue(HAND_OUT_JOB, agent_id)
    unit_of_work.commit()
