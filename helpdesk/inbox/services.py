"""The agent inbox: views, filters, search, counts and read markers.

One query answers a page of the inbox whatever is on it: the ticket with its
customer, assignee and team (joined), its tags (one select-in) and this agent's
read marker (outer-joined), so a row is never an extra query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.customers.identities import InvalidIdentity, normalise_phone
from helpdesk.customers.models import Customer, Identity
from helpdesk.db import utcnow
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.tickets.models import (
    CHANNELS,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    Message,
    Ticket,
    TicketRead,
    TicketTag,
)
from helpdesk.web.api import contains_pattern

VIEWS = ("mine", "team", "unassigned", "all")
# "active" is the default: what still needs someone (new, open, pending).
STATUS_CHOICES = ("active", "any") + STATUSES
_PHONE_LIKE = re.compile(r"\+?[\d\s()./-]{6,30}")


@dataclass(frozen=True)
class InboxFilter:
    """What one inbox screen shows."""

    view: str = "mine"
    status: str = "active"
    channel: str | None = None
    priority: str | None = None
    tag: str | None = None
    q: str | None = None

    def args(self) -> dict:
        """The filter as query arguments (for links), leaving out defaults."""
        return {
            k: v
            for k, v in (
                ("view", self.view),
                ("status", self.status),
                ("channel", self.channel),
                ("priority", self.priority),
                ("tag", self.tag),
                ("q", self.q),
            )
            if v and not (k == "status" and v == "active")
        }


def _one_of(args, name: str, allowed, default=None):
    value = (args.get(name) or "").strip() or default
    if value is not None and value not in allowed:
        raise Invalid(f"{name} must be one of {', '.join(allowed)}", fields={name: "bad value"})
    return value


def parse_filter(args, agent) -> InboxFilter:
    """An InboxFilter from query arguments; Invalid on a value that is not offered."""
    default_view = "all" if agent.role in ("lead", "admin") else "team"
    view = _one_of(args, "view", VIEWS, default_view)
    tag = (args.get("tag") or "").strip().lower() or None
    q = (args.get("q") or "").strip() or None
    if tag and len(tag) > 50:
        raise Invalid("tag is too long", fields={"tag": "too long"})
    if q and len(q) > 200:
        raise Invalid("the search is too long", fields={"q": "too long"})
    return InboxFilter(
        view=view,
        status=_one_of(args, "status", STATUS_CHOICES, "active"),
        channel=_one_of(args, "channel", CHANNELS),
        priority=_one_of(args, "priority", PRIORITIES),
        tag=tag,
        q=q,
    )


def _in_view(query, view: str, agent):
    return query.where(_view_condition(view, agent)) if view != "all" else query


def _status(query, status: str, walk: bool = False):
    """Filter by status. ``walk``: keep the planner off the status index, so that it walks
    ix_tickets_last newest first and stops at a page (without ANALYZE statistics SQLite
    would rather fetch every open ticket by status and sort them all)."""
    column = Ticket.status.concat("") if walk else Ticket.status
    if status == "active":
        return query.where(column.in_(OPEN_STATUSES))
    if status == "any":
        return query
    return query.where(column == status)


def search_condition(q: str):
    """Ticket number, subject, customer name or address, or message text."""
    pattern = contains_pattern(q)
    conditions = [
        func.lower(Ticket.subject).like(pattern, escape="\\"),
        exists().where(
            Customer.id == Ticket.customer_id, func.lower(Customer.name).like(pattern, escape="\\")
        ),
        exists().where(
            Identity.customer_id == Ticket.customer_id, Identity.value.like(pattern, escape="\\")
        ),
        exists().where(
            Message.ticket_id == Ticket.id, func.lower(Message.body_text).like(pattern, escape="\\")
        ),
    ]
    number = q.lstrip("#")
    if number.isascii() and number.isdigit() and len(number) < 10:  # not "²": int() refuses it
        conditions.append(Ticket.id == int(number))
    if _PHONE_LIKE.fullmatch(q):
        # Phones are stored in E.164: "030 1234567" must find "+49301234567".
        try:
            phone = normalise_phone(q)
        except InvalidIdentity:
            phone = None
        if phone:
            conditions.append(
                exists().where(
                    Identity.customer_id == Ticket.customer_id,
                    Identity.kind == "phone",
                    Identity.value == phone,
                )
            )
    return or_(*conditions)


def _walking_access(agent, view: str):
    """The access rule (and the team view) in a form no index serves: written plainly,
    SQLite gathers every ticket of the agent's teams through the indexes (MULTI-INDEX OR)
    and sorts them, instead of walking ix_tickets_last and stopping at a page. The same
    rows as ``access.ticket_filter`` (its customer half for account managers added as it
    is): team ids are never 0."""
    team = func.coalesce(Ticket.team_id, 0)
    teams = sorted(agent.team_ids) + [0]
    condition: ColumnElement[bool]
    if view == "team":
        condition = team.in_(teams)  # (the team view lies inside the access rule)
    elif agent.is_admin:
        condition = true()
    else:
        condition = or_(team.in_(teams), (Ticket.assignee_id + 0) == agent.id)
    return and_(condition, access.accounts_filter(agent))


def query(agent, wanted: InboxFilter, view: str | None = None, walk: bool = False):
    """The tickets ``agent`` may see that match ``wanted`` (in ``view`` if given).

    ``walk``: for a page newest first, keep the planner on ix_tickets_last (see
    ``_status`` and ``_walking_access``); the rows are the same."""
    view = view or wanted.view
    if walk and view in ("all", "team"):
        q = select(Ticket).where(_walking_access(agent, view))
    else:
        q = _in_view(select(Ticket).where(access.ticket_filter(agent)), view, agent)
    q = _status(q, wanted.status, walk)
    if wanted.channel:
        q = q.where(Ticket.channel == wanted.channel)
    if wanted.priority:
        q = q.where(Ticket.priority == wanted.priority)
    if wanted.tag:
        q = q.where(exists().where(TicketTag.ticket_id == Ticket.id, TicketTag.name == wanted.tag))
    if wanted.q:
        q = q.where(search_condition(wanted.q))
    return q


@dataclass
class Row:
    """One inbox row: the ticket and what this agent has not read yet."""

    ticket: Ticket
    unread: bool

    @property
    def waiting_since(self):
        """When the customer last wrote, if nobody has answered since."""
        t = self.ticket
        if t.status in ("solved", "closed") or t.last_inbound_at is None:
            return None
        return t.last_inbound_at if t.last_inbound_at >= t.last_message_at else None


def _with_reads(q, agent):
    return q.add_columns(TicketRead.read_at).outerjoin(
        TicketRead, (TicketRead.ticket_id == Ticket.id) & (TicketRead.agent_id == agent.id)
    )


def _row(ticket: Ticket, read_at) -> Row:
    unread = ticket.last_inbound_at is not None and (
        read_at is None or ticket.last_inbound_at > read_at
    )
    return Row(ticket, unread)


def page(agent, wanted: InboxFilter, number: int, per_page: int) -> tuple[list[Row], bool]:
    """One page of the inbox, most recently active first; and whether there is more."""
    # SQLite only: "mine" and "unassigned" have the assignee index. PostgreSQL's planner
    # walks ix_tickets_last by itself; the disguised conditions would make it guess a
    # handful of rows and scan the table (66 ms instead of 4 with 50,000 tickets).
    walk = wanted.view in ("all", "team") and db.engine.dialect.name == "sqlite"
    q = (
        _with_reads(query(agent, wanted, walk=walk), agent)
        .order_by(Ticket.last_message_at.desc(), Ticket.id.desc())
        .limit(per_page + 1)
        .offset((number - 1) * per_page)
    )

    rows = [_row(t, read_at) for t, read_at in db.session.execute(q).unique().all()]
    return rows[:per_page], len(rows) > per_page


def rows_for(agent, wanted: InboxFilter, ids: list[int]) -> dict[int, Row | None]:
    """For live updates: each ticket's row if it belongs on this screen, else None."""
    found = {
        t.id: _row(t, read_at)
        for t, read_at in db.session.execute(
            _with_reads(query(agent, wanted), agent).where(Ticket.id.in_(ids))
        )
        .unique()
        .all()
    }
    return {i: found.get(i) for i in ids}


def _view_condition(view: str, agent):
    """The condition ``_in_view`` adds for ``view`` (True for all)."""
    if view == "mine":
        return Ticket.assignee_id == agent.id
    if view == "unassigned":
        return Ticket.assignee_id.is_(None)
    if view == "team":
        return or_(Ticket.team_id.in_(agent.team_ids or [-1]), Ticket.team_id.is_(None))
    return true()


def counts(agent, wanted: InboxFilter) -> dict[str, int]:
    """How many tickets each view holds under the current filters: one pass over them."""
    matching = query(agent, wanted, "all").whereclause
    columns = [func.count().label("all")] + [
        func.coalesce(func.sum(case((_view_condition(view, agent), 1), else_=0)), 0).label(view)
        for view in VIEWS
        if view != "all"
    ]
    row = db.session.execute(select(*columns).select_from(Ticket).where(matching)).one()
    return {view: int(getattr(row, view)) for view in VIEWS}


def mark_read(agent, ticket: Ticket) -> None:
    """Remember that ``agent`` has seen everything on ``ticket`` up to now; commits.

    Call it once the page is rendered: the commit expires what the session loaded.
    Nothing is written when the agent's marker is already past the ticket's last
    message (opening it again changes no unread marker): most page views only read.
    """
    table = cast(Table, TicketRead.__table__)  # typed as a FromClause; mapped to a Table
    read_at = db.session.execute(
        select(table.c.read_at).where(table.c.agent_id == agent.id, table.c.ticket_id == ticket.id)
    ).scalar()
    if (
        read_at is not None
        and ticket.last_message_at is not None
        and read_at >= ticket.last_message_at
    ):
        return
    now = utcnow()
    with unit_of_work.write_phase():
        updated = cast(  # an UPDATE's result: Session.execute's type does not say so
            CursorResult[Any],
            db.session.execute(
                table.update()
                .where(table.c.agent_id == agent.id, table.c.ticket_id == ticket.id)
                .values(read_at=now)
            ),
        )
        if not updated.rowcount:
            try:
                with db.session.begin_nested():
                    db.session.execute(
                        table.insert().values(agent_id=agent.id, ticket_id=ticket.id, read_at=now)
                    )
            except IntegrityError:  # the same agent's second tab was first: it is read
                pass
        db.session.commit()
