"""The import screen in a real browser (Debian's Chromium, Playwright) against the live
server: upload a HubSpot export, see its columns and the dry run, change the mapping and
check again, import, watch the progress, download the report.

The UI contract: ``form#import-upload`` (``input[name=file]``, ``select[name=kind]``,
``select[name=format]``); ``section#import-work[data-import][data-status]``; the columns
``form#import-mapping`` with ``select[data-column=NAME]``; ``table.import-rows`` with a
``tr.OUTCOME`` per row; ``#import-counts span[data-outcome]``; ``button#import-start``,
``progress#import-progress``, ``a#import-report``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.fields.models import CustomField
from tests.fixtures.browser import log_in

pytestmark = pytest.mark.slow  # a browser against a live server

SAMPLES = Path(__file__).parent / "samples"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def customers() -> int:
    """Customers stored now (a fresh read beside the live server's writes)."""
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Customer))


def test_upload_map_dry_run_import_and_download_the_report(
    page, live_server, admin, make_agent, make_customer, tmp_path
):
    make_agent("lena@example.com", role="lead", name="Lena Lead")
    make_customer("Eve Existing", emails=["eve@example.com"])
    db.session.add(
        CustomField(
            key="customer_number", label="Customer number", type="text", applies_to="customer"
        )
    )
    db.session.commit()
    db.session.rollback()

    log_in(page, "admin@example.com")
    page.goto("/customers/import")
    upload = page.locator("form#import-upload")
    upload.locator("input[name=file]").set_input_files(str(SAMPLES / "hubspot-contacts.csv"))
    upload.locator("button[type=submit]").click()

    work = page.locator("section#import-work")
    expect(work).to_have_attribute("data-status", "checked")
    expect(page.locator("#import-summary")).to_contain_text("hubspot-contacts.csv: 4 rows, HubSpot")
    first_name = page.locator("select[data-column='First Name']")
    expect(first_name).to_have_value("first_name")
    expect(page.locator("select[data-column='Kundennummer']")).to_have_value("ignore")
    row = page.locator("form#import-mapping tbody tr", has_text="Kundennummer")
    expect(row.locator("td.samples")).to_have_text("K-1001 · K-1002 · K-1003")
    rows = page.locator("table.import-rows tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(2)).to_have_class("refused")
    expect(rows.nth(2)).to_contain_text("mallory(at)example.de")
    expect(rows.nth(3)).to_contain_text("would be merged")
    expect(page.locator("#import-counts span[data-outcome=created]")).to_have_text(
        "2 would be created"
    )
    assert customers() == 1  # the dry run wrote nothing

    # Kundennummer is our customer number: map it and check again.
    page.locator("select[data-column='Kundennummer']").select_option("field.customer_number")
    page.locator("form#import-mapping button[type=submit]").click()
    expect(work).to_have_attribute("data-status", "checked")
    assert customers() == 1

    page.locator("button#import-start").click()
    expect(work).to_have_attribute("data-status", "done")
    expect(page.locator("progress#import-progress")).to_have_attribute("value", "100")
    expect(page.locator("#import-percent")).to_have_text("Imported. 100 %")
    expect(page.locator("#import-counts span[data-outcome=merged]")).to_have_text("1 merged")
    assert customers() == 3
    ids = {c.name: c.id for c in db.session.scalars(select(Customer))}
    # (PostgreSQL's ids go on after the dry runs' rolled-back rows.)
    expect(rows.nth(0).locator("a")).to_have_attribute("href", f"/customers/{ids['Jürgen Müller']}")
    numbers = {c.name: c.custom_fields for c in db.session.scalars(select(Customer))}
    assert numbers == {
        "Eve Existing": {"customer_number": "K-1003"},
        "Jürgen Müller": {"customer_number": "K-1001"},
        "Zoë Ärger": {"customer_number": "K-1002"},
    }
    assert page.seen.errors == [] and page.seen.console == [], page.seen.report()

    shots = SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "import.png"), full_page=True)

    with page.expect_download() as download:
        page.locator("a#import-report").click()
    saved = tmp_path / "report.csv"
    download.value.save_as(saved)
    lines = saved.read_text(encoding="utf-8").splitlines()
    assert download.value.suggested_filename == "hubspot-contacts-report.csv"
    assert lines[0] == "line,outcome,customer_id,reason"
    assert lines[1] == f"2,created,{ids['Jürgen Müller']},"
    assert lines[3].startswith("4,refused,,email")

    page.reload()
    expect(page.locator("table.import-recent tbody tr")).to_have_count(1)
    expect(page.locator("table.import-recent tbody tr")).to_contain_text("done")


def test_agents_get_a_403_page(page, live_server, make_agent):
    make_agent("pat@example.com", name="Pat Agent")
    db.session.rollback()
    log_in(page, "pat@example.com")
    response = page.goto("/customers/import")
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("Imports are for team leads and admins.")
