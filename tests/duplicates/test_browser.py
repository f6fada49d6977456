"""The duplicates screen, the customer erasure and the audit log page in a real browser
(Debian's Chromium driven by Playwright) against the live server.

The UI contract: ``article.duplicate-pair[data-a][data-b]`` per pair with
``input[name^=keep-]`` (which one stays), per choosable field a ``tr[data-field]`` with
radios ``left``/``right``, ``.merge-preview`` (what moves, shown before merging), buttons
``[data-action=merge]`` and ``[data-action=dismiss]``; ``a#erase-customer`` on a
customer's page (admins), ``form#erase-form`` with ``input[name=confirm]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from helpdesk import unit_of_work
from helpdesk.audit.models import AuditEvent
from helpdesk.customers.models import Customer, Organization
from helpdesk.extensions import db
from tests.fixtures.browser import log_in

pytestmark = pytest.mark.slow  # browsers against a live server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shots_folder(tmp_path) -> Path:
    """docs/screenshots when HELPDESK_SCREENSHOTS=1, else a throw-away folder."""
    folder = SCREENSHOTS if os.environ.get("HELPDESK_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_planted_pair_is_merged_with_one_click(
    page, admin, make_customer, inbound, api, tmp_path
):
    with unit_of_work.write_phase():
        acme = Organization(name="Acme GmbH")
        db.session.add(acme)
        db.session.commit()
    keep = make_customer(
        "Jürgen Müller", emails=["j.mueller@acme.example"], title="Buyer", organization_id=acme.id
    )
    twin = make_customer(
        "Juergen Mueller",
        emails=["jm@acme.example"],
        phones=["+49 30 5550101"],
        title="Head of Purchasing",
        organization_id=acme.id,
        language="de",
    )
    inbound("email", "jm@acme.example", "Invoice?", subject="Invoice 113")
    inbound("email", "jm@acme.example", "Still waiting", subject="Invoice 113 again")
    make_customer("Anna Weber", emails=["anna.weber@gmail.com"])
    make_customer("Anna Weber", emails=["annaweber+shop@googlemail.com"])
    keep_id, twin_id = keep.id, twin.id
    db.session.rollback()  # nothing held open beside the live server's writes

    log_in(page, "admin@example.com")
    page.goto("/customers/duplicates")
    pair = page.locator(f"article.duplicate-pair[data-a='{keep_id}'][data-b='{twin_id}']")
    expect(pair).to_be_visible()
    expect(page.locator("article.duplicate-pair")).to_have_count(2)
    expect(pair.locator(".reasons")).to_contain_text("the same name in one organization")
    expect(pair.locator(".merge-preview")).to_contain_text(
        f"Merging moves 2 tickets, 2 messages, 2 addresses from Juergen Mueller (#{twin_id}) "
        f"to Jürgen Müller (#{keep_id})"
    )
    # The newer record's title wins; the name stays the kept one's.
    pair.locator("tr[data-field=title] input[value=right]").check()
    page.screenshot(path=str(shots_folder(tmp_path) / "duplicates.png"), full_page=True)

    pair.locator("[data-action=merge]").click()
    expect(pair.locator(".done")).to_contain_text("Merged: Jürgen Müller now holds both.")
    assert page.seen.errors == [], page.seen.report()

    db.session.rollback()
    merged = db.session.get(Customer, keep_id)
    assert db.session.get(Customer, twin_id) is None
    assert (merged.name, merged.title, merged.language) == (
        "Jürgen Müller",
        "Head of Purchasing",
        "de",
    )
    assert merged.values("email") == ["j.mueller@acme.example", "jm@acme.example"]
    assert merged.values("phone") == ["+49305550101"]
    events = db.session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.customer_id.in_([keep_id, twin_id]),
            AuditEvent.action.like("customer.merge%"),
        )
    ).all()
    assert sorted(events) == ["customer.merge", "customer.merged_into"]

    # Gone from the list; the other pair is dismissed and does not come back.
    page.goto("/customers/duplicates")
    expect(page.locator("article.duplicate-pair")).to_have_count(1)
    page.locator("article.duplicate-pair [data-action=dismiss]").click()
    expect(page.locator("article.duplicate-pair .done")).to_contain_text("different people")
    page.goto("/customers/duplicates")
    expect(page.locator("article.duplicate-pair")).to_have_count(0)
    expect(page.locator("p.none")).to_contain_text("No likely duplicates")


def test_an_admin_erases_a_person_from_the_customer_page(
    page, admin, make_customer, inbound, tmp_path
):
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"], phones=["030 1234567"])
    inbound("email", "ada@example.com", "Hello", subject="Hi")
    ada_id = ada.id
    db.session.rollback()

    log_in(page, "admin@example.com")
    page.goto(f"/customers/{ada_id}")
    page.locator("a#erase-customer").click()
    page.wait_for_url(f"**/customers/{ada_id}/erase")
    expect(page.locator("li[data-kind=tickets]")).to_contain_text("1 ticket")
    expect(page.locator("li[data-kind=messages]")).to_contain_text("1 message")
    expect(page.locator("li[data-kind=identities]")).to_contain_text("2 email addresses")
    button = page.locator("#erase-form button[type=submit]")
    expect(button).to_be_disabled()
    page.locator("#erase-form input[name=confirm]").fill("Ada")
    expect(button).to_be_disabled()
    page.locator("#erase-form input[name=confirm]").fill("ada lovelace")
    expect(button).to_be_enabled()
    page.screenshot(path=str(shots_folder(tmp_path) / "erase.png"))
    button.click()
    page.wait_for_url("**/customers/erased")
    expect(page.locator("h1")).to_have_text("Customer erased")

    db.session.rollback()
    assert db.session.get(Customer, ada_id) is None
    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "customer.erase")
    ).all()
    assert event.customer_id == ada_id and event.before["counts"]["tickets"] == 1

    # The audit log shows it.
    page.goto(f"/settings/audit?customer={ada_id}")
    expect(page.locator("table.audit-log tbody tr").first).to_contain_text("customer.erase")
    expect(page.locator("table.audit-log tbody tr").first).to_contain_text("Admin")


def test_the_audit_log_page_filters(page, admin, make_agent, api, tmp_path):
    make_agent("bob@example.com", name="Bob")  # an agent.create event by the system
    macro = api.post("/api/v1/macros", json={"name": "Greeting", "body": "Hello {customer_name}"})
    api.patch(f"/api/v1/macros/{macro.json['id']}", json={"name": "Warm greeting"})
    db.session.rollback()
    log_in(page, "admin@example.com")
    page.goto("/settings/audit")
    rows = page.locator("table.audit-log tbody tr[data-event]")
    expect(rows.first).to_contain_text("login")  # the newest: this login
    page.locator("form.audit-filters input[name=action]").fill("agent.create")
    page.locator("form.audit-filters button[type=submit]").click()
    page.wait_for_url("**action=agent.create**")
    expect(rows).to_have_count(2)  # Admin and Bob
    expect(rows.first).to_contain_text("bob@example.com")
    page.goto("/settings/audit?object_type=macro")
    expect(rows.first.locator("dl.diff del")).to_have_text("Greeting")
    expect(rows.first.locator("dl.diff ins")).to_have_text("Warm greeting")
    page.screenshot(path=str(shots_folder(tmp_path) / "audit.png"), full_page=True)
