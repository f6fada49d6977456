"""The CRM's pages render what the in-place editors need, and an account manager meets
only their own organizations (anything else is a 404, as if it did not exist)."""

from __future__ import annotations

import re

from helpdesk import unit_of_work
from helpdesk.extensions import db
from tests.fixtures.agents import login

V1 = "/api/v1"


def test_the_customer_pages_carry_every_card_field(client, api, admin, make_customer):
    api.post(
        f"{V1}/custom-fields",
        json={
            "key": "plan",
            "label": "Plan",
            "type": "select",
            "options": ["gold", "silver"],
            "applies_to": "customer",
        },
    )
    ada = make_customer("Ada", emails=["ada@example.com"], custom_fields={"plan": "gold"})
    login(client, admin.email)
    new = client.get("/customers/new").get_data(as_text=True)
    for name in (
        "name",
        "emails",
        "phones",
        "organization",
        "title",
        "address.country",
        "language",
        "preferred_channel",
        "tags",
        "account_manager",
        "consents.sms_marketing",
        "custom_fields.plan",
    ):
        assert f'name="{name}"' in new, name
    page = client.get(f"/customers/{ada.id}").get_data(as_text=True)
    fields = set(re.findall(r'class="field" data-field="([^"]+)"', page))
    assert fields == {
        "name",
        "emails",
        "phones",
        "organization",
        "title",
        "key_person",
        "address",
        "language",
        "preferred_channel",
        "tags",
        "account_manager",
        "consents.email_marketing",
        "consents.sms_marketing",
        "consents.order_updates",
        "custom_fields.plan",
    }
    assert 'href="/organizations"' in page  # the top bar
    listing = client.get("/customers").get_data(as_text=True)
    assert 'href="/customers/new"' in listing  # the customer list's head


def test_organizations_list_searches_sorts_counts_and_hides_what_a_manager_may_not_see(
    web_app, client, api, make_agent
):
    manager = make_agent("am@example.com")
    with unit_of_work.write_phase():
        manager.own_accounts_only = True
        db.session.commit()
    for name in ("Beta Ltd", "alpha GmbH", "Gamma AG"):
        api.post(
            f"{V1}/organizations",
            json={"name": name, "account_manager": manager.id if name == "Gamma AG" else None},
        )
    other = api.post(f"{V1}/organizations", json={"name": "Delta"}).json
    login(client, make_agent("all@example.com").email)
    listed = client.get("/organizations?sort=-name").get_data(as_text=True)
    names = re.findall(r'data-organization="\d+"><td><a [^>]*>([^<]+)</a>', listed)
    assert names == ["Gamma AG", "Delta", "Beta Ltd", "alpha GmbH"]
    assert '<span class="muted count" id="org-total">4</span>' in listed
    found = client.get("/organizations?q=ALP").get_data(as_text=True)
    assert re.findall(r'data-organization="\d+"><td><a [^>]*>([^<]+)</a>', found) == ["alpha GmbH"]
    assert client.get("/organizations/new").status_code == 200
    assert client.get(f"/organizations/{other['id']}").status_code == 200
    as_manager = login(web_app.test_client(), manager.email)
    mine = as_manager.get("/organizations").get_data(as_text=True)
    assert re.findall(r'data-organization="\d+"><td><a [^>]*>([^<]+)</a>', mine) == ["Gamma AG"]
    assert as_manager.get(f"/organizations/{other['id']}").status_code == 404


def test_the_organization_pages_run_as_many_statements_for_many_rows_as_for_few(
    client, api, admin, make_customer, make_ticket, count_queries
):
    login(client, admin.email)

    def grow(n: int) -> int:
        """Add n organizations with a domain and a person with an open ticket each; answer
        the last one's id."""
        for _ in range(n):
            grow.made += 1
            k = grow.made
            org = api.post(
                f"{V1}/organizations", json={"name": f"Org {k}", "domains": [f"o{k}.example"]}
            ).json
            person = make_customer(f"P{k}", emails=[f"p{k}@o{k}.example"], title="Buyer")
            api.patch(f"{V1}/customers/{person.id}", json={"organization": org["id"]})
            make_ticket(person, f"Question {k}")
            make_customer(f"Q{k}", emails=[f"q{k}@o{k}.example"])  # joins by its domain
        return org["id"]

    grow.made = 0

    def statements(path: str) -> int:
        client.get(path)  # warm
        db.session.expunge_all()
        with count_queries() as seen:
            assert client.get(path).status_code == 200
        return len(seen)

    few = grow(2)
    small = (statements("/organizations"), statements(f"/organizations/{few}"))
    many = grow(6)
    assert (statements("/organizations"), statements(f"/organizations/{many}")) == small
