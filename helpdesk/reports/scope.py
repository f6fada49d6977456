"""What a report covers: the days (in a time zone), the filters, and who is asking.

A day is a calendar day in the report's time zone: the ``tz`` argument (an IANA name),
by default ``HELPDESK_REPORTS_TIMEZONE`` (Europe/Berlin). Its bounds are local
midnights turned into UTC, so a day across a daylight-saving change has 23 or 25 hours.

Who sees what (agents/access.py's rule, applied to the reporting events): admins every
event, leads their teams' events, agents their own (events attributed to them),
account managers (``own_accounts_only``) only their accounts' customers'. A filter for
a team, an agent or a channel the viewer may not look at answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import ColumnElement, and_, false, select, true

from helpdesk.agents import access
from helpdesk.agents.models import Agent, Team
from helpdesk.customers.models import Customer
from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.reports.models import ReportingEvent
from helpdesk.tickets.models import CHANNELS, Ticket

MAX_DAYS = 731  # two years: the longest range one report covers


@dataclass
class Scope:
    """One report's days, time zone, filters and viewer."""

    viewer: Agent
    first: date
    last: date
    tz: ZoneInfo
    team: Team | None = None
    channel: str | None = None
    agent: Agent | None = None
    days: list[date] = field(default_factory=list)
    # False: every figure from the events (what the rollups must equal; tests, bench).
    rollups: bool = True

    def __post_init__(self) -> None:
        self.days = [
            self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)
        ]

    def start(self, day: date) -> datetime:
        """The UTC moment the local ``day`` begins."""
        return datetime.combine(day, time(), self.tz).astimezone(UTC)

    @property
    def since(self) -> datetime:
        """The UTC start of the report's first day."""
        return self.start(self.first)

    @property
    def until(self) -> datetime:
        """The UTC end of the report's last day (exclusive)."""
        return self.start(self.last + timedelta(days=1))

    def args(self) -> dict[str, str]:
        """The query arguments that ask for this report again."""
        found = {"from": self.first.isoformat(), "to": self.last.isoformat(), "tz": self.tz.key}
        if self.team is not None:
            found["team"] = str(self.team.id)
        if self.channel is not None:
            found["channel"] = self.channel
        if self.agent is not None:
            found["agent"] = str(self.agent.id)
        return found


def timezone(name: str | None) -> ZoneInfo:
    """The time zone named (the configured default when None), or a 422."""
    name = name or current_app.config.get("REPORTS_TIMEZONE", "Europe/Berlin")
    try:
        if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid("unknown time zone", fields={"tz": "not an IANA time zone"}) from None


def _day(value: str | None, name: str) -> date | None:
    """A YYYY-MM-DD argument, or a 422 naming it."""
    if value is None or value == "":
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be a date YYYY-MM-DD", fields={name: "not a date"}) from None


def build(
    viewer: Agent,
    first: str | None = None,
    last: str | None = None,
    tz: str | None = None,
    team: int | None = None,
    channel: str | None = None,
    agent: int | None = None,
    today: date | None = None,
) -> Scope:
    """Check the arguments and the viewer's right to them; the report's scope.

    Without dates: the last 30 days up to today (in the time zone)."""
    zone = timezone(tz)
    today = today or datetime.now(zone).date()
    last_day = _day(last, "to") or today
    first_day = _day(first, "from") or last_day - timedelta(days=29)
    if first_day > last_day:
        raise Invalid("from must not be after to", fields={"from": "after to"})
    if (last_day - first_day).days >= MAX_DAYS:
        raise Invalid(f"a report covers at most {MAX_DAYS} days", fields={"from": "too early"})
    if channel is not None and channel not in CHANNELS:
        raise Invalid("unknown channel", fields={"channel": f"one of {', '.join(CHANNELS)}"})
    picked_team = _team(viewer, team)
    picked_agent = _agent(viewer, agent)
    return Scope(viewer, first_day, last_day, zone, picked_team, channel, picked_agent)


def _team(viewer: Agent, team_id: int | None) -> Team | None:
    """The team filter: any team for admins, one of their own for everyone else."""
    if team_id is None:
        return None
    team = db.session.get(Team, team_id)
    if team is None or not (viewer.is_admin or team.id in viewer.team_ids):
        raise NotFound("no such team")
    return team


def _agent(viewer: Agent, agent_id: int | None) -> Agent | None:
    """The agent filter: anyone for admins, a member of their teams for leads, only
    themselves for agents."""
    if agent_id is None:
        return None
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        raise NotFound("no such agent")
    if viewer.is_admin or agent.id == viewer.id:
        return agent
    if viewer.role == "lead" and agent.team_ids & viewer.team_ids:
        return agent
    raise NotFound("no such agent")


def teams_for(viewer: Agent) -> list[Team]:
    """The teams the viewer may filter on: every team for admins, else their own."""
    if viewer.is_admin:
        return list(db.session.execute(select(Team).order_by(Team.name)).scalars())
    return sorted(viewer.teams, key=lambda team: team.name)


def agents_for(viewer: Agent) -> list[Agent]:
    """The agents the viewer may filter on."""
    if viewer.is_admin:
        query = select(Agent).order_by(Agent.name)
        return list(db.session.execute(query).unique().scalars())
    if viewer.role == "lead" and viewer.team_ids:
        query = (
            select(Agent).where(Agent.teams.any(Team.id.in_(viewer.team_ids))).order_by(Agent.name)
        )
        return list(db.session.execute(query).unique().scalars())
    return [viewer]


def _customers(viewer: Agent) -> ColumnElement[bool]:
    """Account managers: only their accounts' customers (access.customer_filter)."""
    if not viewer.own_accounts_only:
        return true()
    return ReportingEvent.customer_id.in_(select(Customer.id).where(access.customer_filter(viewer)))


def event_filter(scope: Scope, with_agent: bool = True) -> ColumnElement[bool]:
    """The reporting events the scope counts: the viewer's and the filters'.

    ``with_agent`` False (the backlog): the agent filter is left out, and an agent's own
    view counts their teams' tickets (the ones their inbox shows)."""
    viewer = scope.viewer
    conditions = [_customers(viewer)]
    if viewer.is_admin:
        pass
    elif viewer.role == "lead" or not with_agent:
        teams = viewer.team_ids
        conditions.append(ReportingEvent.team_id.in_(teams) if teams else false())
    else:
        conditions.append(ReportingEvent.agent_id == viewer.id)
    if scope.team is not None:
        conditions.append(ReportingEvent.team_id == scope.team.id)
    if scope.channel is not None:
        conditions.append(ReportingEvent.channel == scope.channel)
    if with_agent and scope.agent is not None:
        conditions.append(ReportingEvent.agent_id == scope.agent.id)
    return and_(*conditions)


def ticket_filter(scope: Scope) -> ColumnElement[bool]:
    """The open tickets the backlog counts: the same rule as ``event_filter`` without the
    agent, on the tickets as they are now."""
    viewer = scope.viewer
    conditions: list[ColumnElement[bool]] = [Ticket.status.in_(("new", "open", "pending"))]
    if viewer.own_accounts_only:
        conditions.append(
            Ticket.customer_id.in_(select(Customer.id).where(access.customer_filter(viewer)))
        )
    if not viewer.is_admin:
        teams = viewer.team_ids
        conditions.append(Ticket.team_id.in_(teams) if teams else false())
    if scope.team is not None:
        conditions.append(Ticket.team_id == scope.team.id)
    if scope.channel is not None:
        conditions.append(Ticket.channel == scope.channel)
    return and_(*conditions)
