"""A ticket's custom fields on the conversation page (a real browser against the live
server): shown, edited in place, a refused value shown beside its field, and a change
made elsewhere followed live."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from helpdesk.extensions import db
from tests.fixtures.browser import assert_not_reloaded, log_in, mark_page, wait_for_socket

pytestmark = pytest.mark.slow  # browsers against a live server

V1 = "/api/v1"


def test_ticket_custom_fields_are_shown_and_edited_on_the_ticket_page(
    page, api, admin, make_customer, make_ticket
):
    for body in (
        {"key": "rma", "label": "RMA number", "type": "text", "applies_to": "ticket"},
        {"key": "units", "label": "Units", "type": "number", "applies_to": "ticket"},
    ):
        assert api.post(f"{V1}/custom-fields", json=body).status_code == 201
    ada = make_customer("Ada", emails=["ada@example.com"])
    ticket_id = make_ticket(ada, "Broken kettle", custom_fields={"rma": "R-100"})
    log_in(page, admin.email)
    page.goto(f"/tickets/{ticket_id}")
    wait_for_socket(page)
    mark_page(page)
    rma = page.locator('#ticket-fields .field[data-field="custom_fields.rma"]')
    units = page.locator('#ticket-fields .field[data-field="custom_fields.units"]')
    expect(rma.locator(".value")).to_have_text("R-100")
    units.locator("button.edit-field").click()
    units.locator("[name=value]").fill("a few")
    units.locator("button[type=submit]").click()
    expect(units.locator(".field-error")).to_contain_text("must be a number")
    units.locator("[name=value]").fill("3")
    units.locator("button[type=submit]").click()
    expect(units.locator(".value")).to_have_text("3")
    expect(units.locator(".field-error")).to_be_hidden()
    # A colleague changes another field: the page follows (ticket.updated).
    db.session.rollback()  # no read snapshot from before the live server's write
    assert (
        api.patch(f"{V1}/tickets/{ticket_id}", json={"custom_fields": {"rma": "R-200"}}).status_code
        == 200
    )
    expect(rma.locator(".value")).to_have_text("R-200")
    assert_not_reloaded(page)
    db.session.rollback()  # read what the live server committed
    assert api.get(f"{V1}/tickets/{ticket_id}").json["custom_fields"] == {
        "rma": "R-200",
        "units": 3,
    }
    assert not page.seen.errors, page.seen.report()
