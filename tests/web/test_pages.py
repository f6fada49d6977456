"""The server-rendered agent pages: inbox, conversation, customer."""

from __future__ import annotations

import re

import pytest

from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from tests.fixtures.agents import login


@pytest.fixture
def browser(client, make_agent):
    """A test client logged in as an agent of team Support, through the real form."""
    make_agent("pat@example.com", teams=["Support"], password="correct horse")
    return login(client, "pat@example.com", "correct horse")


@pytest.mark.parametrize("path", ["/", "/inbox", "/tickets/1", "/customers/1"])
def test_pages_send_anonymous_visitors_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_inbox_lists_open_tickets_with_customer_and_escapes_values(browser, inbound):
    hostile = '<img src=x onerror="alert(1)">Eve'
    inbound("sms", "+4915112345678", "hello", sender_name=hostile)
    page = browser.get("/inbox").get_data(as_text=True)
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;Eve" in page
    assert '<img src=x onerror="alert(1)">' not in page
    assert "hello" in page  # the subject falls back to the first line


def test_inbox_hides_tickets_of_other_teams(browser, inbound, make_agent):
    from helpdesk.agents.models import Team

    make_agent("bill@example.com", teams=["Billing"])
    result = inbound("email", "ada@example.com", "secret billing issue", subject="Refund 77")
    ticket = db.session.get(Ticket, result.ticket.id)
    ticket.team = db.session.query(Team).filter_by(name="Billing").one()
    db.session.commit()
    assert "Refund 77" not in browser.get("/inbox").get_data(as_text=True)
    assert browser.get(f"/tickets/{ticket.id}").status_code == 404


def test_conversation_shows_thread_card_and_review_flag(browser, inbound):
    first = inbound(
        "email", "ada@example.com", "My mug arrived broken", subject="Broken mug", sender_name="Ada"
    )
    inbound(
        "email",
        "ada@example.com",
        "",
        subject="Re: Broken mug",
        raw=b"\xff",
        review_reason="MIME could not be parsed",
    )
    page = browser.get(f"/tickets/{first.ticket.id}").get_data(as_text=True)
    assert "My mug arrived broken" in page
    assert "Needs a person: MIME could not be parsed" in page
    # The card and history beside the thread are the page's second request (ticket.js).
    assert f'data-src="/customers/{first.customer.id}/panel"' in page
    panel = browser.get(f"/customers/{first.customer.id}/panel").get_data(as_text=True)
    assert "ada@example.com" in panel and "Open tickets" in panel and "Broken mug" in panel


def test_the_card_names_the_organizations_key_people(browser, inbound, make_customer):
    from helpdesk.customers.models import Organization

    org = Organization(name="Hooli GmbH")
    db.session.add(org)
    db.session.commit()
    make_customer("Zoe Boss", organization_id=org.id, key_person=True, title="CEO")
    make_customer('<b onmouseover="x()">Bea</b> Buyer', organization_id=org.id, key_person=True)
    make_customer("Carl Clerk", organization_id=org.id)  # not a key person
    make_customer("Olga Other", key_person=True)  # of no organization
    ada = make_customer("Ada", emails=["ada@example.com"], organization_id=org.id, key_person=True)
    inbound("email", "ada@example.com", "Hello", subject="Hi")
    for path in (f"/customers/{ada.id}/panel", f"/customers/{ada.id}"):
        page = browser.get(path).get_data(as_text=True)
        shown = re.search(r'<p class="key-people muted">(.*?)</p>', page, re.S).group(1)
        # By name, with their titles; Ada herself, Carl and Olga are not listed.
        assert re.findall(r">([^<]*)</a>", shown) == [
            "&lt;b onmouseover=&#34;x()&#34;&gt;Bea&lt;/b&gt; Buyer",
            "Zoe Boss",
        ]
        assert "(CEO)" in shown and "Carl" not in shown and "Olga" not in shown
    lone = make_customer("Lone", emails=["lone@example.com"])
    assert 'class="key-people' not in browser.get(f"/customers/{lone.id}/panel").get_data(
        as_text=True
    )


def test_customer_page_and_inbox_run_bounded_queries(browser, inbound, count_queries):
    def measure(path):
        db.session.rollback()  # the same start each time: nothing loaded, no transaction
        with count_queries() as statements:
            assert browser.get(path).status_code == 200
        return len(statements)

    first = inbound("sms", "+4915112345678", "one", sender_name="Eva")
    measure(f"/tickets/{first.ticket.id}")  # the first visit also stores the read marker
    pages = (
        "/inbox",
        "/inbox?view=mine",
        f"/customers/{first.customer.id}",
        f"/customers/{first.customer.id}/panel",
        f"/tickets/{first.ticket.id}",
    )
    small = tuple(measure(path) for path in pages)
    for n in range(30):
        inbound("sms", "+4915112345678", f"more {n}")
        inbound("email", f"other{n}@example.com", f"other {n}")
    unread_visit = measure(f"/tickets/{first.ticket.id}")  # new messages: stores the marker
    large = tuple(measure(path) for path in pages)
    assert unread_visit <= 40  # storing the read marker: a few statements more
    # Never more with a longer history (fewer when a page holds fewer kinds of entry).
    assert all(big <= few for big, few in zip(large, small, strict=True)), (small, large)
    assert max(large) <= 40  # the conversation page: thread, controls, card and history
