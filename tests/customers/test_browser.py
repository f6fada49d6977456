"""The CRM screens in a real browser (Debian's Chromium driven by Playwright) against the
live server: a customer made on /customers/new, every card field edited in place on
/customers/ID (a custom field, a consent, and a refused value shown beside its field), an
address of another customer turned into the offer to merge them, and an organization
edited on /organizations/ID. Screenshots go to docs/screenshots with
HELPDESK_SCREENSHOTS=1.

The UI contract: ``form#customer-new`` (inputs named as the API's fields, ``address.KEY``,
``consents.PURPOSE``, ``custom_fields.KEY``); ``dl.fields .field[data-field=NAME]`` with
``button.edit-field``, an editor ``form.inline-edit`` and ``.field-error``;
``.merge-offer`` with ``.merge-start`` and ``.merge-yes``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from tests.fixtures.browser import assert_not_reloaded, log_in, mark_page

pytestmark = pytest.mark.slow  # browsers against a live server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
V1 = "/api/v1"


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: docs/screenshots with HELPDESK_SCREENSHOTS=1, else away."""
    folder = SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def plan(api):
    """A select field on customers."""
    response = api.post(
        f"{V1}/custom-fields",
        json={
            "key": "plan",
            "label": "Plan",
            "type": "select",
            "options": ["gold", "silver"],
            "applies_to": "customer",
        },
    )
    assert response.status_code == 201
    return response.json


def field(page, name: str):
    """The in-place field ``name`` of the page."""
    return page.locator(f'dl.fields .field[data-field="{name}"]')


def edit(page, name: str):
    """Open the editor of field ``name``; answer the editor form."""
    field(page, name).locator("button.edit-field").click()
    return field(page, name).locator("form.inline-edit")


def test_a_customer_is_created_on_the_form(page, api, admin, plan):
    org = api.post(f"{V1}/organizations", json={"name": "Acme Corp"}).json
    log_in(page, admin.email)
    page.goto("/customers/new")
    form = page.locator("form#customer-new")
    form.locator("[name=name]").fill("Grace Hopper")
    form.locator("[name=emails]").fill("grace@example.com, g.hopper@example.org")
    form.locator("[name=phones]").fill("+49 30 1234567")
    form.locator("[name=organization]").fill("Acme Corp")
    form.locator("[name=title]").fill("Rear Admiral")
    form.locator("[name='address.city']").fill("Berlin")
    form.locator("[name='address.country']").fill("xx")
    form.locator("[name=language]").fill("en")
    form.locator("[name=preferred_channel]").select_option("email")
    form.locator("[name=tags]").fill("vip, navy")
    form.locator("[name='consents.email_marketing']").check()
    form.locator("[name=consent_source]").fill("trade fair")
    form.locator("[name='custom_fields.plan']").select_option("gold")
    form.locator("[name=account_manager]").select_option(str(admin.id))
    form.locator("button[type=submit]").click()
    error = form.locator("fieldset[data-errors=address] .field-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("ISO 3166-1")
    assert "/customers/new" in page.url  # refused: nothing made, still on the form
    form.locator("[name='address.country']").fill("de")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/customers/\d+$"))
    customer_id = int(page.url.rsplit("/", 1)[1])
    db.session.rollback()  # read what the live server committed (no older snapshot)
    grace = api.get(f"{V1}/customers/{customer_id}").json
    assert grace["emails"] == ["grace@example.com", "g.hopper@example.org"]
    assert grace["phones"] == ["+49301234567"] and grace["organization"]["id"] == org["id"]
    assert grace["address"] == {"street": None, "postcode": None, "city": "Berlin", "country": "DE"}
    assert grace["tags"] == ["vip", "navy"] and grace["custom_fields"] == {"plan": "gold"}
    assert grace["consents"]["email_marketing"]["granted"] is True
    assert grace["consents"]["email_marketing"]["source"] == "trade fair"
    assert grace["account_manager"] == admin.id
    assert not page.seen.errors, page.seen.report()


def test_card_fields_are_edited_in_place(page, api, admin, plan, make_customer, shots):
    ada = make_customer(
        "Ada Lovelace",
        emails=["ada@example.com"],
        phones=["+491711234567"],
        title="Analyst",
        tags=["vip"],
        custom_fields={"plan": "silver"},
    )
    log_in(page, admin.email)
    page.goto(f"/customers/{ada.id}")
    mark_page(page)
    form = edit(page, "title")
    form.locator("[name=value]").fill("Countess")
    form.locator("button[type=submit]").click()
    expect(field(page, "title").locator(".value")).to_have_text("Countess")
    expect(page.locator("#customer-panel section.card")).to_contain_text("Countess")
    form = edit(page, "custom_fields.plan")
    form.locator("[name=value]").select_option("gold")
    form.locator("button[type=submit]").click()
    expect(field(page, "custom_fields.plan").locator(".value")).to_have_text("gold")
    form = edit(page, "consents.sms_marketing")
    form.locator("[name=granted]").check()
    form.locator("[name=source]").fill("phone call")
    form.locator("button[type=submit]").click()
    expect(field(page, "consents.sms_marketing").locator(".value")).to_contain_text(
        "granted · phone call"
    )
    form = edit(page, "address")
    form.locator("[name=city]").fill("London")
    form.locator("[name=country]").fill("ZZ")
    form.locator("button[type=submit]").click()
    error = field(page, "address").locator(".field-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("ISO 3166-1")
    form.locator("[name=country]").fill("gb")
    form.locator("button[type=submit]").click()
    expect(field(page, "address").locator(".value")).to_have_text("London, GB")
    expect(error).to_be_hidden()
    assert_not_reloaded(page)
    db.session.rollback()  # read what the live server committed
    saved = api.get(f"{V1}/customers/{ada.id}").json
    assert saved["title"] == "Countess" and saved["custom_fields"] == {"plan": "gold"}
    assert saved["consents"]["sms_marketing"]["granted"] is True
    assert saved["consents"]["sms_marketing"]["source"] == "phone call"
    assert saved["address"]["country"] == "GB"
    page.screenshot(path=str(shots / "customer-edit.png"), full_page=False)

    # The record's head counts, its tabs show one section at a time (the details first).
    ticket = api.post(f"{V1}/tickets", json={"customer": ada.id, "subject": "Broken mug"}).json
    assert api.put(
        f"{V1}/orders/A-1", json={"customer": ada.id, "total": "12.50", "currency": "EUR"}
    ).status_code in (200, 201)
    page.goto(f"/customers/{ada.id}")
    facts = page.locator("#customer-facts")
    expect(facts.locator("[data-fact=open_tickets]")).to_contain_text("1")
    expect(facts.locator("[data-fact=lifetime_value]")).to_have_text("€12.50")
    details, tickets = page.locator("#record-details"), page.locator("#record-tickets")
    expect(details).to_be_visible()
    expect(tickets).to_be_hidden()
    page.locator("a[role=tab][aria-controls=record-tickets]").click()
    expect(tickets.locator(f"tr[data-ticket='{ticket['id']}']")).to_contain_text("Broken mug")
    expect(details).to_be_hidden()
    page.locator("a[role=tab][aria-controls=record-tickets]").press("ArrowRight")
    expect(page.locator("#record-orders")).to_contain_text("A-1")
    page.reload()  # the address names the section
    expect(page.locator("#record-orders")).to_be_visible()
    page.goto(f"/customers/{ada.id}#record-details")
    page.screenshot(path=str(shots / "customer-record.png"), full_page=False)
    assert not page.seen.errors, page.seen.report()


def test_an_address_of_another_customer_offers_the_merge(page, api, admin, make_customer):
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    bob_id = make_customer("Bob Byron", emails=["bob@example.com"]).id
    log_in(page, admin.email)
    page.goto(f"/customers/{ada.id}")
    form = edit(page, "emails")
    form.locator("[name=value]").fill("ada@example.com, bob@example.com")
    form.locator("button[type=submit]").click()
    offer = page.locator(".merge-offer")
    expect(offer).to_be_visible()
    expect(offer.locator(".conflict")).to_contain_text("bob@example.com belongs to Bob Byron")
    expect(field(page, "emails").locator(".field-error")).to_contain_text("Bob Byron")
    offer.locator(".merge-start").click()
    offer.locator(".merge-yes").click()
    expect(field(page, "emails").locator(".value")).to_have_text("ada@example.com, bob@example.com")
    db.session.rollback()  # read what the live server committed
    assert db.session.get(Customer, bob_id) is None
    assert api.get(f"{V1}/customers/{ada.id}").json["emails"] == [
        "ada@example.com",
        "bob@example.com",
    ]
    assert not page.seen.errors, page.seen.report()


def test_an_organization_is_edited_and_listed(page, api, admin, make_customer, shots):
    org = api.post(f"{V1}/organizations", json={"name": "Acme Corp", "domains": ["acme.example"]})
    org_id = org.json["id"]
    for name in ("Globex", "Initech", "Umbrella"):
        api.post(f"{V1}/organizations", json={"name": name})
    eva = make_customer("Eva Example", emails=["eva@acme.example"], title="CFO", key_person=True)
    api.post(f"{V1}/tickets", json={"customer": eva.id, "subject": "Invoice wrong"})
    log_in(page, admin.email)
    page.goto("/organizations")
    expect(page.locator("table.orgs tbody tr")).to_have_count(4)
    page.screenshot(path=str(shots / "organizations.png"))
    page.locator("table.orgs a", has_text="Acme Corp").click()
    page.wait_for_url(f"**/organizations/{org_id}")
    mark_page(page)
    form = edit(page, "industry")
    form.locator("[name=value]").fill("Manufacturing")
    form.locator("button[type=submit]").click()
    expect(field(page, "industry").locator(".value")).to_have_text("Manufacturing")
    form = edit(page, "address")
    form.locator("[name=street]").fill("Hauptstr. 5")
    form.locator("[name=postcode]").fill("10115")
    form.locator("[name=city]").fill("Berlin")
    form.locator("[name=country]").fill("de")
    form.locator("button[type=submit]").click()
    expect(field(page, "address").locator(".value")).to_have_text("Hauptstr. 5, 10115 Berlin, DE")
    form = edit(page, "account_manager")
    form.locator("[name=value]").select_option(str(admin.id))
    form.locator("button[type=submit]").click()
    expect(field(page, "account_manager").locator(".value")).to_have_text("Admin")
    form = edit(page, "notes")
    form.locator("[name=value]").fill("Key account.\nRenewal in March.")
    form.locator("button[type=submit]").click()
    expect(field(page, "notes").locator(".value")).to_have_text("Key account.\nRenewal in March.")
    expect(page.locator("table.people tr[data-customer]")).to_contain_text("Invoice wrong")
    assert_not_reloaded(page)
    db.session.rollback()  # read what the live server committed
    saved = api.get(f"{V1}/organizations/{org_id}").json
    assert saved["industry"] == "Manufacturing" and saved["account_manager"] == admin.id
    assert saved["address"]["city"] == "Berlin"
    assert saved["notes"] == "Key account.\nRenewal in March."
    page.screenshot(path=str(shots / "organization.png"))
    assert not page.seen.errors, page.seen.report()
