"""Reporting events: one row per thing a report counts, written in the same transaction
as the change it records (``reports.recording``), with the ticket's team, channel, agent
and customer at that moment. Reports read these, never the messages."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.customers.models import Customer
from helpdesk.db import UTCDateTime, utcnow
from helpdesk.extensions import Model
from helpdesk.tickets.models import Ticket

# What happened. ``value`` is, per kind: first_response and solved the seconds since the
# ticket was created (first response time, resolution time); survey the rating 1-5.
# team_in / team_out move an open ticket's backlog from one team to another.
KINDS = (
    "created",
    "first_response",
    "response",
    "solved",
    "reopened",
    "team_in",
    "team_out",
    "sla_met",
    "sla_breached",
    "survey",
)


class ReportingEvent(Model):
    """One counted event on a ticket: created, answered, solved, reopened, an SLA target
    met or missed, a survey answered."""

    __tablename__ = "reporting_events"
    __table_args__ = (
        # Every report query is "these kinds in this time range", optionally by team or
        # agent (the access rule of leads and agents), or by customer (account managers).
        # (kind, at) and, for index-only scans of the durations (percentiles) and the
        # per-agent figures, what they read besides: also a lead's (team_id) filter,
        # applied inside this index (EXPLAIN at 200,000 tickets: the planner took it
        # for every lead query but India's half hours, so (team_id, kind, at) went,
        # migration h2r0001: one index less written with every event). An agent's own
        # view and the agent filter use (agent_id, kind, at); the customer's for account
        # managers and the customer's ON DELETE CASCADE; the ticket's for its cascade
        # and "who solved it". (No path in the app deletes a team: its SET NULL would
        # scan.)
        Index(
            "ix_reporting_events_kind_at_value",
            "kind",
            "at",
            "value",
            "agent_id",
            "team_id",
            "channel",
        ),
        Index("ix_reporting_events_agent_kind_at", "agent_id", "kind", "at"),
        Index("ix_reporting_events_customer_at", "customer_id", "at"),
        Index("ix_reporting_events_ticket_id", "ticket_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(10))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    value: Mapped[int | None] = mapped_column(Integer)
    # The SLA target of sla_met / sla_breached ("first_response", "resolution").
    detail: Mapped[str | None] = mapped_column(String(20))
    # Lets an event be recorded on a ticket not flushed yet (ingest flushes once).
    ticket: Mapped[Ticket] = relationship(Ticket)
    customer: Mapped[Customer | None] = relationship(Customer)

    def __repr__(self) -> str:
        return f"<ReportingEvent {self.kind} ticket={self.ticket_id} at={self.at}>"


class WeeklyMail(Model):
    """Whether an agent gets the weekly report mail (no row: leads do, others do not), and
    the last week it went out (ISO ``2026-W45``: never twice for one week)."""

    __tablename__ = "weekly_report_mails"
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    wanted: Mapped[bool | None] = mapped_column(Boolean)
    last_week: Mapped[str | None] = mapped_column(String(8))

    def __repr__(self) -> str:
        return f"<WeeklyMail agent={self.agent_id} wanted={self.wanted} last={self.last_week}>"


# The kinds the overview counts (per day, per hour, SLA, survey): rolled up per hour.
ROLLED = (
    "created",
    "solved",
    "reopened",
    "team_in",
    "team_out",
    "sla_met",
    "sla_breached",
    "survey",
)


class ReportingRollup(Model):
    """The counted reporting events of one UTC hour, kind, team, channel and detail: how
    many, the sum of their values, how many rated 4 or 5. Kept in step with the events
    by the same flush (``reports.rollups``); a whole-hour time zone's days and hours are
    whole sets of these, so the overview reads them instead of every event."""

    __tablename__ = "reporting_rollups"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    # 0: no team, '' no detail (a primary key holds no NULL).
    team_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    detail: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<ReportingRollup {self.kind} {self.hour} team={self.team_id} {self.count}>"


class ReportingDaily(Model):
    """The hourly rollups summed per UTC day (same keys, ``day`` for ``hour``), kept in
    step by the same flush: a quarter reads ~90 of these per key instead of ~2,200 hours,
    and the hours only where a local day and a UTC day differ (``reports.daily``)."""

    __tablename__ = "reporting_rollups_daily"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    team_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    detail: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<ReportingDaily {self.kind} {self.day} team={self.team_id} {self.count}>"


# The kinds whose values (seconds) the overview takes percentiles of.
TIMED = ("first_response", "solved")


class ReportingDuration(Model):
    """A histogram of the durations (``TIMED``) of one UTC ten-day period ("dekad": days
    1-10, 11-20, 21-end of a month), team and agent: how many took ``bucket`` seconds
    (``reports.durations.bucket``: the whole minute below an hour, the middle of a
    10-minute, hour or day bucket above). ``agent_id`` 0: none; resolutions are kept
    without their agent (0), only first responses per agent (the per-agent medians). Kept
    in step by the same flush as the rollups; the overview's percentiles read these for
    a range's whole periods and the events only for the days at its ends."""

    __tablename__ = "reporting_durations"
    __table_args__ = (
        # An index-only read of a range's periods (the primary key lacks ``count``).
        Index(
            "ix_reporting_durations_read",
            "kind",
            "period",
            "team_id",
            "agent_id",
            "bucket",
            "count",
        ),
    )
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    team_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<ReportingDuration {self.kind} {self.period} {self.bucket}s x{self.count}>"


class ReportingAgentPeriod(Model):
    """Per UTC ten-day period (as ``ReportingDuration``), team and agent: how many tickets
    the agent solved, and the survey answers on their tickets (how many, the sum of the
    ratings). The per-agent table's counts for a range's whole periods; the days at its
    ends come from the events."""

    __tablename__ = "reporting_agent_periods"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    team_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)

    def __repr__(self) -> str:
        return f"<ReportingAgentPeriod {self.kind} {self.period} agent={self.agent_id}>"
