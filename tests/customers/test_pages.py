"""The CRM pages as agents see them: an address typed into the chat is marked
unverified (in English and German) and never offered as a mail address."""

from __future__ import annotations

import re

from helpdesk import unit_of_work
from helpdesk.channels.chat import identity
from helpdesk.extensions import db
from tests.fixtures.agents import login


def test_an_unverified_chat_email_is_marked_on_the_card_and_in_the_api(
    client, api, admin, make_customer
):
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    with unit_of_work.write_phase():
        visitor, _ = identity.new_visitor()
        identity.give_email(visitor, "ada@example.com", "Someone")
        db.session.commit()
    [visitor_customer] = [
        c for c in api.get("/api/v1/customers?per_page=50").json["items"] if c["id"] != ada.id
    ]
    assert visitor_customer["emails"] == []
    assert visitor_customer["unverified_email"] == "ada@example.com"
    assert api.get(f"/api/v1/customers/{ada.id}").json["unverified_email"] is None
    login(client, admin.email)
    for path in (
        f"/customers/{visitor_customer['id']}",
        f"/customers/{visitor_customer['id']}/panel",
    ):
        page = client.get(path)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        marked = re.search(r'<li class="unverified"[^>]*>(.*?)</li>', html, re.S)
        assert marked, html
        assert "ada@example.com" in marked.group(1)
        assert "unverified" in marked.group(1) and "nicht bestätigt" in marked.group(1)
        assert 'href="mailto:ada@example.com"' not in html
        assert 'data-emails="[]"' in html
    ada_page = client.get(f"/customers/{ada.id}").get_data(as_text=True)
    assert 'class="unverified"' not in ada_page
