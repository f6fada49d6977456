"""Notes the reporting events of each flush; they are written when its transaction ends.

The core does not call this module: ``reports.init_app`` hangs ``before_flush`` on the
session (``install``), which reads what the flush is about to write: a new ticket
(the audit trail's ``created``), a status change (``status``, ``escalated``), a move to
another team (``team``), an agent's reply (a new outbound message). So every path that
changes a ticket is counted without knowing about reports, and an event never exists
without its change, nor a change without its event (one transaction).

After the flush (the new tickets have ids) the events and what they add to the rollups
and histograms are noted on the transaction's connection (``rollups.keep_up``) and
written by ``rollups.write`` at its very end (the connection's commit; a savepoint's
start and release, so that a savepoint rolled back takes exactly its own), summed per
key: one statement per transaction on PostgreSQL, and the rollup rows every writer
shares (the hour's ``created`` per team and channel) locked only for the commit, not
for a whole ingest batch (issue 20). Earlier only when the transaction itself reads the
reporting tables or deletes (the cascades must find the events).

SLA compliance is decided when a target is settled: the first response met or missed
its due time when the first reply went out, the resolution when the ticket was solved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from helpdesk.customers.models import Customer
from helpdesk.db import utcnow
from helpdesk.reports import rollups
from helpdesk.reports.models import (
    ReportingAgentPeriod,
    ReportingDaily,
    ReportingDuration,
    ReportingEvent,
    ReportingRollup,
)
from helpdesk.tickets.models import OPEN_STATUSES, Message, Ticket, TicketEvent

DONE = ("solved", "closed")


PENDING = "reporting_events_pending"  # session.info: events waiting for their flush
_LISTENERS = ("before_flush", "after_flush", "after_soft_rollback", "do_orm_execute")
# The end of a transaction (or the start or release of a savepoint): write what it
# noted (``rollups.write``); a rollback: forget it. Listened to on every engine.
_WRITE_AT = ("commit", "savepoint", "release_savepoint")
_FORGET_AT = ("begin", "rollback", "rollback_savepoint")  # (and after the commit)
_RECORDED = (
    ReportingEvent,
    ReportingRollup,
    ReportingDaily,
    ReportingDuration,
    ReportingAgentPeriod,
)


def install() -> None:
    """Record reporting events on every flush of every session (once per process)."""
    for target, name, handler in _listeners():
        if not event.contains(target, name, handler):
            event.listen(target, name, handler)


def uninstall() -> None:
    """Stop recording (the ingest benchmark's comparison)."""
    for target, name, handler in _listeners():
        if event.contains(target, name, handler):
            event.remove(target, name, handler)


def _listeners() -> list[tuple[Any, str, Callable[..., Any]]]:
    return [(Session, name, _HANDLERS[name]) for name in _LISTENERS] + [
        (Engine, name, _write_unwritten if name in _WRITE_AT else _forget_unwritten)
        for name in (*_WRITE_AT, *_FORGET_AT)
    ]


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Note the reporting events of what this flush writes (noted after it, below)."""
    if session.deleted and session.info.get(rollups.UNWRITTEN):
        # A deleted ticket's or customer's events must be stored for the cascade (and
        # read by ``forget_customers``) before it goes.
        rollups.write(session.connection())
    deleted = [obj.id for obj in session.deleted if isinstance(obj, Customer)]
    for customer_id in deleted:
        follow_tickets(session, ReportingEvent.__table__, customer_id)
    if deleted:  # their events go with them (ON DELETE CASCADE), and off the rollups
        rollups.forget_customers(session, deleted)
    for obj in list(session.new):
        if isinstance(obj, TicketEvent):
            _from_trail(session, obj)
        elif isinstance(obj, Message) and obj.direction == "out" and obj.author_kind == "agent":
            _from_reply(session, obj)


def _after_flush(session: Session, flush_context: Any) -> None:
    """Note the events for their transaction's end, now that their tickets have ids."""
    pending = session.info.pop(PENDING, None)
    if pending:
        _write(session, [_row(ticket, fields) for ticket, fields in pending])


def _forget(session: Session, previous_transaction: Any) -> None:
    """A rollback: the noted events go with what they recorded."""
    session.info.pop(PENDING, None)
    if previous_transaction.parent is None:  # (the connection's rollback clears it)
        session.info.pop(rollups.UNWRITTEN, None)


def _before_execute(state: ORMExecuteState) -> None:
    """A statement on the reporting tables, or a delete (the cascade), in a transaction
    that noted events: they are written first, so it sees them."""
    if not state.session.info.get(rollups.UNWRITTEN):
        return
    mapper = state.bind_mapper  # (the statement's first entity: cheaper than all of them)
    if state.is_delete or (mapper is not None and mapper.class_ in _RECORDED):
        rollups.write(state.session.connection())


def _write_unwritten(connection: Any, *args: Any) -> None:
    rollups.write(connection)
    if not args:  # the commit (a savepoint's start and release name it)
        rollups.end(connection)


def _forget_unwritten(connection: Any, name: str | None = None, *args: Any) -> None:
    if name is None:  # the transaction's start or rollback
        rollups.end(connection)
        return
    found = connection.info.get(rollups.UNWRITTEN)  # a savepoint's rollback
    if found is not None:
        found.clear()


_HANDLERS: dict[str, Callable[..., Any]] = {
    "before_flush": _before_flush,
    "after_flush": _after_flush,
    "after_soft_rollback": _forget,
    "do_orm_execute": _before_execute,
}


def _row(ticket: Ticket, fields: dict[str, Any]) -> dict[str, Any]:
    """An event's row: the ticket's id, customer and (unless given) team, as flushed."""
    row = {**fields, "ticket_id": ticket.id, "customer_id": ticket.customer_id}
    if row["team_id"] is False:
        row["team_id"] = ticket.team_id
    return row


def _write(session: Session, rows: list[dict[str, Any]]) -> None:
    """Note event rows and their rollup changes, written when the transaction ends
    (``rollups.keep_up``, ``rollups.write``)."""
    events = [
        (
            row["kind"],
            row["ticket_id"],
            row["team_id"],
            row["channel"],
            row["agent_id"],
            row["customer_id"],
            row["at"],
            row["value"],
            row["detail"],
        )
        for row in rows
    ]
    rollups.keep_up(session, rows, events)


def follow_tickets(session: Session, table: Any, customer_id: int) -> None:
    """A customer is deleted: rows of ``table`` (a ``ticket_id``, a ``customer_id``) on
    that customer take their ticket's customer now. A merge moved the tickets to the
    surviving customer first, so their events stay (and do not go with the deleted
    customer's ON DELETE CASCADE)."""
    owner = select(Ticket.customer_id).where(Ticket.id == table.c.ticket_id).scalar_subquery()
    session.execute(
        update(table).where(table.c.customer_id == customer_id).values(customer_id=owner)
    )


def seconds(start: datetime | None, end: datetime | None) -> int | None:
    """Whole seconds from ``start`` to ``end`` (None when either is missing)."""
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


def add(
    session: Session,
    ticket: Ticket,
    kind: str,
    at: datetime,
    agent_id: int | None = None,
    value: int | None = None,
    detail: str | None = None,
    team_id: int | None | bool = False,
) -> None:
    """Add one reporting event on ``ticket`` (its team unless ``team_id`` says another):
    noted at once for a stored ticket, else with the flush that stores it."""
    fields = _fields(ticket, kind, at, agent_id, value, detail, team_id)
    if ticket.id is not None and ticket.customer_id is not None:
        _write(session, [_row(ticket, fields)])
    else:
        session.info.setdefault(PENDING, []).append((ticket, fields))


def _record(
    session: Session,
    ticket: Ticket,
    kind: str,
    at: datetime,
    agent_id: int | None = None,
    value: int | None = None,
    detail: str | None = None,
    team_id: int | None | bool = False,
) -> None:
    """From inside the flush: note an event, written with the others after it."""
    fields = _fields(ticket, kind, at, agent_id, value, detail, team_id)
    session.info.setdefault(PENDING, []).append((ticket, fields))


def _fields(
    ticket: Ticket,
    kind: str,
    at: datetime,
    agent_id: int | None,
    value: int | None,
    detail: str | None,
    team_id: int | None | bool,
) -> dict[str, Any]:
    """An event's columns but the ticket's ids (``team_id`` False: the ticket's team)."""
    return {
        "kind": kind,
        "team_id": _team_of(ticket) if team_id is False else team_id,
        "channel": ticket.channel,
        "agent_id": agent_id,
        "at": at,
        "value": value,
        "detail": detail,
    }


def _moment(ticket: Ticket) -> datetime:
    """When a change happened: the customer's message that caused it (ingest sets the
    ticket's last inbound time to it), else now."""
    added = inspect(ticket).attrs.last_inbound_at.history.added
    return added[0] if added and added[0] is not None else utcnow()


def _team_of(ticket: Ticket) -> int | None | bool:
    """The ticket's team id when only the relationship was set in this flush (the column
    not synced yet); otherwise False: its ``team_id`` as flushed. (A loaded relationship
    that nobody set this flush may be stale: whoever set ``team_id`` alone moved the
    ticket.) Never loads the team."""
    state = inspect(ticket)
    if "team" in state.dict and state.attrs.team.history.has_changes():
        team = state.dict["team"]
        return team.id if team is not None else None
    return False


def _assignee_of(ticket: Ticket) -> int | None:
    """The ticket's assignee id, also when only the relationship was set in this flush
    (as ``_team_of``); never loads the agent."""
    state = inspect(ticket)
    if "assignee" in state.dict and state.attrs.assignee.history.has_changes():
        assignee = state.dict["assignee"]
        return assignee.id if assignee is not None else None
    return ticket.assignee_id


def _from_trail(session: Session, entry: TicketEvent) -> None:
    """The reporting events an audit trail entry stands for."""
    ticket = entry.ticket
    if ticket is None:
        return
    data = entry.data or {}
    if entry.kind == "created":
        _record(session, ticket, "created", ticket.created_at or utcnow(), _assignee_of(ticket))
        if ticket.status in DONE:
            _solved(session, ticket, entry.agent_id)
    elif entry.kind == "status":
        _status(session, ticket, data.get("from"), data.get("to"), entry.agent_id)
    elif entry.kind == "escalated":
        status = data.get("status") or {}
        team = data.get("team") or {}
        if status.get("from") in DONE:
            _status(session, ticket, status.get("from"), status.get("to"), entry.agent_id)
        elif team and _was_open(ticket):
            _moved(session, ticket, team.get("from"), team.get("to"), entry.created_at)
    elif entry.kind == "team" and _was_open(ticket):
        _moved(session, ticket, data.get("from"), data.get("to"), entry.created_at)


def _was_open(ticket: Ticket) -> bool:
    """Whether the ticket was open before this flush's changes."""
    deleted = inspect(ticket).attrs.status.history.deleted
    before = deleted[0] if deleted else ticket.status
    return before in OPEN_STATUSES


def _moved(
    session: Session, ticket: Ticket, old: int | None, new: int | None, when: datetime | None
) -> None:
    """An open ticket moved teams (when the trail says): its backlog leaves one team and
    joins the other."""
    at = when or utcnow()
    _record(session, ticket, "team_out", at, team_id=old)
    _record(session, ticket, "team_in", at, team_id=new)


def _status(
    session: Session, ticket: Ticket, old: str | None, new: str | None, actor: int | None
) -> None:
    """A status change: solved (from an open status) or reopened (from a done one)."""
    if new in DONE and old not in DONE:
        _solved(session, ticket, actor)
    elif old in DONE and new in OPEN_STATUSES:
        _record(session, ticket, "reopened", _moment(ticket), _assignee_of(ticket))


def _solved(session: Session, ticket: Ticket, actor: int | None) -> None:
    """The ticket was solved: its resolution time, and whether it met its SLA."""
    at = ticket.solved_at or utcnow()
    agent = _assignee_of(ticket) or actor
    _record(session, ticket, "solved", at, agent, seconds(ticket.created_at, at))
    if ticket.resolution_due is not None:
        kind = "sla_met" if at <= ticket.resolution_due else "sla_breached"
        _record(session, ticket, kind, at, agent, detail="resolution")


def _from_reply(session: Session, message: Message) -> None:
    """An agent's reply: a response, and the first response when it is the first."""
    ticket = message.ticket
    if ticket is None:
        with session.no_autoflush:  # (the reply's ticket is in the identity map)
            ticket = session.get(Ticket, message.ticket_id)
    if ticket is None:
        return
    at = message.created_at or utcnow()
    _record(session, ticket, "response", at, message.author_id)
    if ticket.first_response_at is None or ticket.first_response_at != at:
        return
    _record(
        session, ticket, "first_response", at, message.author_id, seconds(ticket.created_at, at)
    )
    if ticket.first_response_due is not None:
        kind = "sla_met" if at <= ticket.first_response_due else "sla_breached"
        _record(session, ticket, kind, at, message.author_id, detail="first_response")
