"""The report as tables: one CSV per chart, or every table in one XLSX workbook (written
by XlsxWriter in constant-memory mode: each row goes to disk as it is written)."""

from __future__ import annotations

import csv
import io
import tempfile
from typing import Any

from helpdesk.reports.scope import Scope

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The tables, in the workbook's order: each chart's numbers (and the summary).
TABLES = ("summary", "days", "channels", "times", "sla", "satisfaction", "hours", "agents")


def tables(report: dict[str, Any], scope: Scope) -> dict[str, list[list[Any]]]:
    """Every table of the report (``overview(..., extras=True)``): a header row, then
    the rows."""
    channels = sorted(report["by_day_channel"])
    sla, csat = report["sla"], report["csat"]
    first, resolution = report["first_response_minutes"], report["resolution_minutes"]
    return {
        "summary": [
            ["figure", "value"],
            ["from", scope.first.isoformat()],
            ["to", scope.last.isoformat()],
            ["time zone", scope.tz.key],
            ["created", report["created"]],
            ["solved", report["solved"]],
            ["backlog", report["backlog"]],
            ["first response median (minutes)", first["median"]],
            ["first response p90 (minutes)", first["p90"]],
            ["resolution median (minutes)", resolution["median"]],
            ["resolution p90 (minutes)", resolution["p90"]],
            ["SLA met", sla["met"]],
            ["SLA breached", sla["breached"]],
            ["SLA compliance", sla["compliance"]],
            ["survey responses", csat["responses"]],
            ["average rating", csat["average"]],
            ["satisfied share", csat["satisfied_share"]],
        ],
        "days": [["date", "created", "solved", "backlog"]]
        + [[d["date"], d["created"], d["solved"], d["backlog"]] for d in report["by_day"]],
        "channels": [["date"] + [f"{c} {kind}" for c in channels for kind in ("created", "solved")]]
        + [
            [day["date"]]
            + [
                report["by_day_channel"][c][kind][n]
                for c in channels
                for kind in ("created", "solved")
            ]
            for n, day in enumerate(report["by_day"])
        ],
        "times": [
            ["time", "median (minutes)", "p90 (minutes)"],
            ["first response", first["median"], first["p90"]],
            ["resolution", resolution["median"], resolution["p90"]],
        ],
        "sla": [["target", "met", "breached"]]
        + [[t, v["met"], v["breached"]] for t, v in report["sla_by_target"].items()],
        "satisfaction": [
            ["responses", "average", "satisfied share"],
            [csat["responses"], csat["average"], csat["satisfied_share"]],
        ],
        "hours": [["weekday"] + [f"{h:02d}" for h in range(24)]]
        + [[WEEKDAYS[n]] + list(row) for n, row in enumerate(report["hours"])],
        "agents": [["agent", "solved", "first response median (minutes)", "average rating"]]
        + [
            [a["agent"]["name"], a["solved"], a["first_response_minutes_median"], a["csat_average"]]
            for a in report["by_agent"]
        ],
    }


def to_csv(rows: list[list[Any]]) -> str:
    """One table as CSV text (empty cells for no value)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return out.getvalue()


def to_xlsx(all_tables: dict[str, list[list[Any]]]) -> bytes:
    """Every table as a sheet of one workbook."""
    import xlsxwriter

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/report.xlsx"
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": folder})
        bold = workbook.add_format({"bold": True})
        for name, rows in all_tables.items():
            sheet = workbook.add_worksheet(name)
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    if cell is not None:
                        sheet.write(r, c, cell, bold if r == 0 else None)
        workbook.close()
        with open(path, "rb") as file:
            return file.read()
