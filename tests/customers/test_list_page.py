"""The /customers page, server-side: filters from the URL, the total, the sidebar of
segments with their counts, a bad filter shown rather than a crash."""

from __future__ import annotations

from helpdesk import unit_of_work
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from tests.fixtures.agents import login


def berlin(customer_id: int, *tags: str) -> None:
    with unit_of_work.write_phase():
        row = db.session.get(Customer, customer_id)
        row.city, row.country, row.tags = "Berlin", "DE", list(tags)
        db.session.commit()


def test_the_list_shows_the_filter_from_the_url(client, admin, api, make_customer):
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    berlin(ada.id, "vip")
    make_customer("Bob Builder", emails=["bob@example.com"])
    api.post("/api/v1/segments", json={"name": "VIP", "filter": {"tag": "vip"}, "shared": True})
    login(client, "admin@example.com")
    page = client.get("/customers?q=berlin&tag=vip&sort=name").get_data(as_text=True)
    assert "Ada Lovelace" in page and "Bob Builder" not in page
    assert '<strong id="total">1</strong>' in page
    assert 'value="berlin"' in page and 'value="vip"' in page
    assert ">VIP</a>" in page and '<span class="count" title="Customers in it now">1</span>' in page
    everyone = client.get("/customers").get_data(as_text=True)
    assert "Ada Lovelace" in everyone and "Bob Builder" in everyone
    assert 'href="/customers"' in client.get("/inbox").get_data(as_text=True)  # in the menu


def test_a_bad_filter_is_shown_on_the_page(client, admin):
    login(client, "admin@example.com")
    response = client.get("/customers?country=Germany")
    assert response.status_code == 422
    assert "two-letter country code" in response.get_data(as_text=True)
