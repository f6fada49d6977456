"""REST API v1 for reports: the overview and its export (docs/product.md)."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from helpdesk import unit_of_work
from helpdesk.customers.schemas import Strict
from helpdesk.errors import Invalid
from helpdesk.reports import export, figures, weekly
from helpdesk.reports import scope as scopes
from helpdesk.tickets.models import CHANNELS
from helpdesk.web.api import api_blueprint, parse_body
from helpdesk.web.args import int_arg
from helpdesk.web.openapi import Param, Shape, choice, documented, integer, text

bp = api_blueprint("reports_api", __name__, lock_writes=True)
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
QUERY = (
    Param("from", DATE, "The first day, YYYY-MM-DD (default: 29 days before to)"),
    Param("to", DATE, "The last day, YYYY-MM-DD (default: today)"),
    Param("tz", text(64), "The IANA time zone days are counted in (default Europe/Berlin)"),
    Param("team", integer(), "Only this team's tickets"),
    Param("channel", choice(CHANNELS), "Only tickets on this channel"),
    Param("agent", integer(), "Only what this agent did"),
)


class Durations(Shape):
    """Median and 90th percentile in calendar minutes (null: none in the range)."""

    median: float | None
    p90: float | None


class Sla(Shape):
    """SLA targets settled in the range: met, breached, and met / (met + breached)."""

    met: int
    breached: int
    compliance: float | None


class Csat(Shape):
    """Survey answers in the range: how many, the average rating, the share of 4 and 5."""

    responses: int
    average: float | None
    satisfied_share: float | None


class Day(Shape):
    """One day: tickets created, solved, and open at its end (local time zone)."""

    date: str
    created: int
    solved: int
    backlog: int


class ChannelCounts(Shape):
    """Tickets created and solved on one channel."""

    created: int
    solved: int


class AgentRef(Shape):
    """The agent."""

    id: int
    name: str | None


class AgentRow(Shape):
    """One agent's figures."""

    agent: AgentRef
    solved: int
    first_response_minutes_median: float | None
    csat_average: float | None


class OverviewOut(Shape):
    """The report of a date range (docs/product.md, "Reports")."""

    created: int
    solved: int
    backlog: int
    first_response_minutes: Durations
    resolution_minutes: Durations
    sla: Sla
    csat: Csat
    by_day: list[Day]
    by_channel: dict[str, ChannelCounts]
    by_agent: list[AgentRow]


class ExportOut(Shape):
    """A CSV table or an XLSX workbook (not JSON)."""


def scope_from_request() -> scopes.Scope:
    """The report the query string asks for, checked against the caller's rights."""
    channel = request.args.get("channel") or None
    return scopes.build(
        g.agent,
        request.args.get("from"),
        request.args.get("to"),
        request.args.get("tz"),
        team=int_arg("team"),
        channel=channel,
        agent=int_arg("agent"),
    )


def contract(report: dict[str, Any]) -> dict[str, Any]:
    """The overview's keys as the contract names them."""
    return {key: report[key] for key in OverviewOut.model_fields}


@bp.get("/reports/overview")
@documented(OverviewOut, query=QUERY)
def overview():
    """Tickets created and solved, backlog, response and resolution times, SLA and
    satisfaction for a date range; leads see their teams, agents themselves."""
    return jsonify(contract(figures.overview(scope_from_request())))


@bp.get("/reports/export")
@documented(
    ExportOut,
    query=(
        *QUERY,
        Param("format", choice(("csv", "xlsx")), "csv: one table; xlsx: every table"),
        Param("chart", choice(export.TABLES), "The table a CSV holds (default: days)"),
    ),
    files=tuple(media.split(";")[0] for media in CONTENT_TYPES.values()),
)
def export_report():
    """The overview as CSV (one chart's table) or XLSX (every table)."""
    kind = request.args.get("format") or "csv"
    if kind not in CONTENT_TYPES:
        raise Invalid("format must be csv or xlsx", fields={"format": "csv or xlsx"})
    chart = request.args.get("chart") or "days"
    if chart not in export.TABLES:
        raise Invalid("unknown chart", fields={"chart": f"one of {', '.join(export.TABLES)}"})
    scope = scope_from_request()
    all_tables = export.tables(figures.overview(scope, extras=True), scope)
    name = f"report-{scope.first.isoformat()}-{scope.last.isoformat()}"
    if kind == "csv":
        body: str | bytes = export.to_csv(all_tables[chart])
        name = f"{name}-{chart}"
    else:
        body = export.to_xlsx(all_tables)
    return Response(
        body,
        content_type=CONTENT_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="{name}.{kind}"'},
    )


class WeeklyMailIn(Strict):
    """PUT /reports/weekly-mail: whether you get the weekly report mail."""

    weekly: bool


class WeeklyMailOut(Shape):
    """Whether you get the weekly report mail (leads do unless they turned it off)."""

    weekly: bool


@bp.get("/reports/weekly-mail")
@documented(WeeklyMailOut)
def weekly_mail():
    """Whether you get the weekly report mail every Monday."""
    return jsonify({"weekly": weekly.setting(g.agent)})


@bp.put("/reports/weekly-mail")
@documented(WeeklyMailOut, body=WeeklyMailIn)
def choose_weekly_mail():
    """Turn your weekly report mail on or off."""
    chosen = weekly.choose(g.agent, parse_body(WeeklyMailIn).weekly)
    unit_of_work.commit()
    return jsonify({"weekly": chosen})
