"""The report's downloads: one chart's table as CSV (read back with the csv module),
every table as XLSX (read back with openpyxl), the same access rule as the overview;
and the page for each role."""

from __future__ import annotations

import csv
import io

import openpyxl

from tests.fixtures.agents import login
from tests.reports.conftest import RANGE, get_report

EXPORT = RANGE.replace("overview", "export")


def test_csv_per_chart_reads_back(api, desk, history):
    response = get_report(api, EXPORT + "&format=csv&chart=days")
    assert response.status_code == 200
    assert response.content_type.startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [
        ["date", "created", "solved", "backlog"],
        ["2026-10-24", "2", "1", "1"],
        ["2026-10-25", "1", "1", "1"],
        ["2026-10-26", "1", "2", "1"],
    ]
    agents = list(
        csv.DictReader(io.StringIO(get_report(api, EXPORT + "&chart=agents").get_data(True)))
    )
    assert [(a["agent"], a["solved"]) for a in agents] == [
        ("Ann", "2"),
        ("Lena", "2"),
        ("Bob", "0"),
    ]
    times = list(csv.reader(io.StringIO(get_report(api, EXPORT + "&chart=times").get_data(True))))
    assert times[1:] == [["first response", "45.0", "102.0"], ["resolution", "900.0", "1833.0"]]


def test_xlsx_holds_every_table(api, desk, history):
    response = get_report(api, EXPORT + "&format=xlsx")
    assert response.status_code == 200
    assert response.content_type.startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    assert book.sheetnames == [
        "summary",
        "days",
        "channels",
        "times",
        "sla",
        "satisfaction",
        "hours",
        "agents",
    ]
    days = [list(row) for row in book["days"].iter_rows(values_only=True)]
    assert days[1:] == [["2026-10-24", 2, 1, 1], ["2026-10-25", 1, 1, 1], ["2026-10-26", 1, 2, 1]]
    summary = dict(book["summary"].iter_rows(values_only=True))
    assert summary["SLA compliance"] == 0.75 and summary["created"] == 4
    hours = [list(row) for row in book["hours"].iter_rows(values_only=True)]
    # Created (local time): Sat 09:00 and 23:30, Sun 02:30 CEST, Mon 00:15 CET.
    assert (hours[6][1 + 9], hours[6][1 + 23], hours[7][1 + 2], hours[1][1 + 0]) == (1, 1, 1, 1)
    assert sum(sum(row[1:]) for row in hours[1:]) == 4


def test_exports_follow_the_access_rule_and_refuse_bad_formats(api, api_as, desk, history):
    lead = api_as(desk["lead"])
    rows = list(csv.reader(io.StringIO(get_report(lead, EXPORT + "&format=csv").get_data(True))))
    assert [row[1] for row in rows[1:]] == ["2", "1", "0"]
    sales = desk["bob"].teams[0].id
    assert get_report(lead, EXPORT + f"&team={sales}&format=xlsx").status_code == 404
    assert get_report(api, EXPORT + "&format=pdf").status_code == 422
    assert get_report(api, EXPORT + "&chart=pie").status_code == 422


def test_the_page_for_a_lead_and_an_agent(client, desk, history):
    login(client, "lena@example.com")
    page = client.get("/reports?from=2026-10-24&to=2026-10-26")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-chart="channels"' in html and "Download all as XLSX" in html
    assert "Content-Security-Policy" in page.headers
    body = client.get("/reports/body?preset=7d")
    assert body.status_code == 200 and 'id="report"' in body.get_data(as_text=True)
    sales = desk["bob"].teams[0].id
    assert client.get(f"/reports?team={sales}").status_code == 404
    assert client.get("/reports?tz=Nowhere/Land").status_code == 422


def test_the_page_needs_a_login(client):
    response = client.get("/reports")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
