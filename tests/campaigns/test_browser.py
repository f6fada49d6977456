"""The campaign pages in a real browser: a draft written, previewed and saved through
the form, then a campaign whose counts and progress bar follow the live
``campaign.progress`` events while a sender works; a screenshot of each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from helpdesk import unit_of_work
from helpdesk.campaigns import recipients, sending
from helpdesk.campaigns.models import Campaign
from helpdesk.extensions import db
from helpdesk.segments.models import Segment
from tests.campaigns.helpers import bulk_customers, mailbox_on
from tests.fixtures.browser import log_in, wait_for_socket

pytestmark = pytest.mark.slow  # a browser against a live server
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def app_config():
    return {"CAMPAIGN_EMAIL_RATE": 0, "CAMPAIGN_SENDERS": 1}


def shots(tmp_path) -> Path:
    """docs/screenshots when HELPDESK_SCREENSHOTS=1, else a throw-away folder."""
    folder = SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_draft_is_written_previewed_and_its_sending_followed_live(
    page, admin, smtp_server, tmp_path
):
    with unit_of_work.write_phase():
        db.session.add(Segment(name="Newsletter", filter={"tag": ["news"]}, shared=True))
        db.session.commit()
    mailbox_on(smtp_server)
    bulk_customers(45, consenting=lambda n: n % 9 != 0)  # 40 consenting, 5 not
    db.session.rollback()

    log_in(page, "admin@example.com")
    expect(page.locator("header.top nav a", has_text="Campaigns")).to_be_visible()
    page.goto("/campaigns/new")
    form = page.locator("#campaign-form")
    form.locator("input[name=name]").fill("Kettle recall")
    form.locator("select[name=segment]").select_option(label="Newsletter")
    form.locator("input[name=subject]").fill("About your kettle, {first_name}")
    form.locator("textarea[name=body]").fill(
        "Dear {customer_name},\n\nplease send the kettle back."
    )
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    campaign_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.locator("#campaign-preview").click()
    preview = page.locator("#campaign-preview-box")
    expect(preview.locator(".preview-subject")).to_have_text("About your kettle, Customer")
    expect(preview.locator(".preview-body")).to_contain_text("Dear Customer")
    page.screenshot(path=str(shots(tmp_path) / "campaign-draft.png"))

    # Sent (the recipient rows made, no sender yet): the page shows the counts, then
    # follows a sender's progress live. (The draft's page would reload on the news.)
    page.goto("/campaigns")
    with unit_of_work.write_phase():
        campaign = db.session.get(Campaign, campaign_id)
        campaign.status, campaign.sent_by_id = "preparing", admin.id
        db.session.commit()
    original = recipients.jobs.enqueue
    recipients.jobs.enqueue = lambda *args, **kwargs: None  # the senders start below
    try:
        recipients.prepare(campaign_id)
    finally:
        recipients.jobs.enqueue = original
    page.goto(f"/campaigns/{campaign_id}")
    wait_for_socket(page)
    expect(page.locator("[data-count=recipients]")).to_have_text("45")
    expect(page.locator("[data-count=sent]")).to_have_text("0")
    expect(page.locator("[data-count=skipped_no_consent]")).to_have_text("5")
    page.evaluate("() => { window.__noReload = 'still here'; }")
    sending.send_slice(campaign_id)
    expect(page.locator("[data-count=sent]")).to_have_text("40")
    expect(page.locator("#campaign-status")).to_have_text("sent")
    assert page.evaluate("() => document.getElementById('campaign-bar').value") == 45
    assert page.evaluate("() => window.__noReload") == "still here"
    page.screenshot(path=str(shots(tmp_path) / "campaign-progress.png"))
    page.goto("/campaigns")
    expect(page.locator(f"tr[data-campaign='{campaign_id}']")).to_contain_text("Kettle recall")
    page.screenshot(path=str(shots(tmp_path) / "campaigns.png"))
    assert page.seen.errors == [], page.seen.report()
    assert len(smtp_server.handler_obj.received) == 40
