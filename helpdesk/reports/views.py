"""The /reports page: a date range, filters, charts and their tables. The body
(``_reports.html``) is rendered here both inside the page and alone for
``static/reports.js``, which swaps it in and redraws the charts when the range or a
filter changes; CSV and XLSX downloads go through the API with the session."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import render_template, request
from flask_login import current_user

from helpdesk.reports import figures, weekly
from helpdesk.reports import scope as scopes
from helpdesk.reports.export import TABLES, WEEKDAYS
from helpdesk.tickets.models import CHANNELS
from helpdesk.web.args import int_arg
from helpdesk.web.pages import page_blueprint

bp = page_blueprint("reports", __name__)
PRESETS = ("today", "7d", "30d", "quarter")


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """The days of a preset: today, the last 7 or 30 days, this calendar quarter."""
    if preset == "today":
        return today, today
    if preset == "7d":
        return today - timedelta(days=6), today
    if preset == "quarter":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    return today - timedelta(days=29), today


def _scope() -> scopes.Scope:
    """The report the query string asks for (a preset, or from/to), for the agent."""
    zone = scopes.timezone(request.args.get("tz"))
    first, last = request.args.get("from"), request.args.get("to")
    preset = request.args.get("preset") or ("30d" if not (first or last) else "")
    if preset in PRESETS:
        start, end = preset_range(preset, datetime.now(zone).date())
        first, last = start.isoformat(), end.isoformat()
    return scopes.build(
        current_user,
        first,
        last,
        zone.key,
        team=int_arg("team"),
        channel=request.args.get("channel") or None,
        agent=int_arg("agent"),
    )


def _context(scope: scopes.Scope) -> dict:
    """What the report body shows."""
    report = figures.overview(scope, extras=True)
    return {
        "scope": scope,
        "report": report,
        "weekdays": WEEKDAYS,
        "tables": TABLES,
        "args": scope.args(),
    }


@bp.get("/reports")
def page():
    """The report page: leads and admins see their teams; an agent sees their own."""
    scope = _scope()
    preset = request.args.get("preset") or ("" if request.args.get("from") else "30d")
    return render_template(
        "reports.html",
        presets=PRESETS,
        preset=preset,
        teams=scopes.teams_for(current_user),
        agents=scopes.agents_for(current_user),
        channels=CHANNELS,
        weekly_mail=weekly.setting(current_user),
        **_context(scope),
    )


@bp.get("/reports/body")
def body():
    """The report body alone, for the page's script to swap in."""
    return render_template("_reports.html", **_context(_scope()))
