"""Who a chat visitor is (issue 15, findings 1 and 4): an email typed into the chat proves
nothing and learns nothing until its mailbox follows the one-time link; resuming a
conversation takes the visitor's secret, which agents never see. Real Socket.IO visitors
on the served app, the real SMTP server, the Flask test client for the link."""

from __future__ import annotations

import hashlib
import json
import re
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from helpdesk.channels.chat.services import create_chat_channel
from helpdesk.channels.models import ChatVisitor
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket
from tests.fixtures.sockets import Listener
from tests.fixtures.sockets import Visitor as ChatVisitorClient

SHOP = "https://shop.example"
CONFIRM_SUBJECT = "Confirm your email address / Bitte bestätigen Sie Ihre E-Mail-Adresse"
NEUTRAL_EN = (
    "We could not find that order under your contact details; a colleague will look into it."
)
SHIPPED = {
    "status": "shipped",
    "carrier": "DHL",
    "tracking_number": "JJD0099887766",
    "tracking_url": "https://tracking.example/dhl?piece=JJD0099887766",
    "expected_delivery": "2026-03-12",
}
_LINK = re.compile(r"https?://\S+(/chat/confirm/[A-Za-z0-9._-]+)")


def Visitor(url, key, **auth):  # noqa: N802 - reads like the class it makes
    """A visitor on the shop's website."""
    return ChatVisitorClient(url, key, SHOP, **auth)


@pytest.fixture
def chat(app):
    channel, _ = create_chat_channel("Shop chat", team="Support", origins=[SHOP])
    db.session.commit()
    return channel


@pytest.fixture
def put_order(api):
    """Create or update an order through the API, as the shop does."""

    def put(number: str, customer, **fields):
        response = api.put(f"/api/v1/orders/{number}", json={"customer": customer.id, **fields})
        assert response.status_code in (200, 201), response.json
        return response.json

    return put


def mails(smtp_server) -> list:
    return [
        (r["to"], message_from_bytes(r["data"], policy=policy.default))
        for r in smtp_server.handler_obj.received
    ]


def confirmation_path(smtp_server, address: str) -> str:
    """The path of the last confirmation link the SMTP server got for ``address``."""
    for to, mail in reversed(mails(smtp_server)):
        if to == [address] and str(mail["Subject"]) == CONFIRM_SUBJECT:
            assert mail["Auto-Submitted"] == "auto-replied"
            return _LINK.search(mail.get_content()).group(1)
    raise AssertionError(f"no confirmation mail to {address}")


def customer_state(customer_id: int) -> tuple:
    db.session.rollback()
    customer = db.session.get(Customer, customer_id)
    return (
        customer.name,
        customer.unverified_email,
        sorted((i.kind, i.value) for i in customer.identities),
        customer.updated_at,
    )


@pytest.mark.slow
def test_typing_a_customers_email_learns_nothing_and_changes_nothing(
    live_server,
    chat,
    make_customer,
    put_order,
    inbound,
    mailbox,
    smtp_server,
    make_agent,
    make_token,
):
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"], language="en")
    put_order("10023", ada, **SHIPPED)
    private = inbound("email", "ada@example.com", "Meine neue Adresse ist Hauptstr. 1")
    before = customer_state(ada.id)
    pat = make_agent("pat@example.com", teams=["Support"])
    agent = Listener(live_server, auth={"token": make_token(pat)})  # someone is online
    visitor = Visitor(live_server, chat.address)
    try:
        session = visitor.wait_for("session")
        assert session["history"] == [] and session["ticket"] is None
        answer = visitor.call("identify", {"name": "Ada", "email": "ADA@example.com"})
        assert answer == {"ok": True, "verified": False, "confirmation_sent": True}
        # A second address: before, it was added to Ada's record.
        visitor.call("identify", {"name": "Eve", "email": "eve@example.com"})
        sent = visitor.call("message", {"text": "Where is my order #10023?"})
        bot = visitor.wait_for("message", where=lambda d: d["author"] == "bot")
        assert bot["text"] == NEUTRAL_EN
        assert visitor.call("transcript")["error"].startswith("confirm your email address")
        texts = " ".join(visitor.texts())
        assert "Hauptstr" not in texts and "JJD" not in texts and "DHL" not in texts
        # A reconnect with the visitor's own secret shows only the visitor's own chat.
        again = Visitor(
            live_server, chat.address, visitor=session["visitor"], secret=session["secret"]
        )
        try:
            resumed = again.wait_for("session")
            assert resumed["ticket"] == sent["ticket"] and resumed["identified"] is False
            assert [m["text"] for m in resumed["history"]] == [
                "Where is my order #10023?",
                NEUTRAL_EN,
            ]
        finally:
            again.close()
    finally:
        visitor.close()
        agent.close()
    # Ada's record is as it was; the visitor is a customer of its own, unverified.
    assert customer_state(ada.id) == before
    ticket = db.session.get(Ticket, sent["ticket"])
    assert ticket.customer_id != ada.id
    assert ticket.customer.values("email") == []
    assert ticket.customer.unverified_email == "eve@example.com"
    assert db.session.get(Ticket, private.ticket.id).customer_id == ada.id
    # Only the confirmation links went out, to the typed addresses, nothing else.
    assert sorted((to[0], str(m["Subject"])) for to, m in mails(smtp_server)) == [
        ("ada@example.com", CONFIRM_SUBJECT),
        ("eve@example.com", CONFIRM_SUBJECT),
    ]
    for _, mail in mails(smtp_server):
        assert "Hauptstr" not in mail.get_content() and "10023" not in mail.get_content()
    # A mail from the typed address is not answered with Ada's order data.
    question = inbound("email", "eve@example.com", "Where is my order 10023?", subject="Order")
    assert question.customer.id != ada.id
    [(to, answer_mail)] = [
        (to, m) for to, m in mails(smtp_server) if str(m["Subject"]) != CONFIRM_SUBJECT
    ]
    assert to == ["eve@example.com"]
    body = answer_mail.get_body(("plain",)).get_content()
    assert "JJD0099887766" not in body and "DHL" not in body and "shipped" not in body
    assert answer_mail["Auto-Submitted"] == "auto-replied"
    assert customer_state(ada.id) == before


@pytest.mark.slow
def test_resuming_takes_the_secret_and_agents_never_see_it(live_server, chat, api):
    first = Visitor(live_server, chat.address)
    try:
        handed = first.wait_for("session")
        visitor_id, secret = handed["visitor"], handed["secret"]
        sent = first.call("message", {"text": "Meine IBAN ist DE00 1234"})
    finally:
        first.close()
    db.session.rollback()
    stored = db.session.get(ChatVisitor, visitor_id)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    # What agents see: the visitor id (a ticket's contact), never the secret.
    seen = [
        api.get(f"/api/v1/tickets/{sent['ticket']}"),
        api.get("/api/v1/tickets"),
    ]
    customer_id = seen[0].json["customer"]["id"]
    seen += [
        api.get(f"/api/v1/customers/{customer_id}"),
        api.get(f"/api/v1/customers/{customer_id}/timeline"),
        api.get(f"/api/v1/customers/{customer_id}/export"),
    ]
    assert [r.status_code for r in seen] == [200] * 5
    assert visitor_id in seen[0].get_data(as_text=True)
    for response in seen:
        assert secret not in response.get_data(as_text=True)
        assert stored.secret_hash not in response.get_data(as_text=True)
    # The id alone (as an agent of another team read it), or a wrong secret: a new
    # visitor with an empty conversation.
    for auth in ({"visitor": visitor_id}, {"visitor": visitor_id, "secret": "x" * 43}):
        thief = Visitor(live_server, chat.address, **auth)
        try:
            session = thief.wait_for("session")
            assert session["visitor"] != visitor_id
            assert session["ticket"] is None and session["history"] == []
            own = thief.call("message", {"text": "Sentinel"})
            assert own["ticket"] != sent["ticket"]
            # The thief's own echo is the sentinel: the victim's history would come first.
            earlier = thief.before("message", where=lambda d, own=own: d["id"] == own["id"])
            assert [d for event, d in earlier if event == "message"] == []
        finally:
            thief.close()
    # The id and its secret: the conversation, and no new secret handed out.
    owner = Visitor(live_server, chat.address, visitor=visitor_id, secret=secret)
    try:
        session = owner.wait_for("session")
        assert session["visitor"] == visitor_id and session["ticket"] == sent["ticket"]
        assert [m["text"] for m in session["history"]] == ["Meine IBAN ist DE00 1234"]
        assert "secret" not in session
    finally:
        owner.close()
    assert "Sentinel" not in json.dumps(api.get(f"/api/v1/tickets/{sent['ticket']}").json)


@pytest.mark.slow
def test_the_confirmation_link_links_the_visitor_and_forged_or_expired_ones_do_not(
    live_server, chat, make_customer, mailbox, smtp_server, client, app
):
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    visitor = Visitor(live_server, chat.address)
    try:
        handed = visitor.wait_for("session")
        visitor_id = handed["visitor"]
        sent = visitor.call("message", {"text": "Hallo"})
        assert visitor.call("identify", {"email": "ada@example.com"})["confirmation_sent"]
        path = confirmation_path(smtp_server, "ada@example.com")
        token = path.rsplit("/", 1)[1]
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        for bad in (f"/chat/confirm/{forged}", "/chat/confirm/garbage"):
            for method in (client.get, client.post):
                response = method(bad)
                assert response.status_code == 400, response.data
                assert response.json["error"]["code"] == "invalid_link"
        app.config["CHAT_CONFIRM_SECONDS"] = -1  # every link is too old
        try:
            response = client.post(path)
            assert response.status_code == 400 and "expired" in response.json["error"]["message"]
        finally:
            app.config["CHAT_CONFIRM_SECONDS"] = 24 * 3600
        db.session.rollback()
        assert db.session.get(Ticket, sent["ticket"]).customer_id != ada.id
        # Opening the link (a mail scanner does) shows a button and confirms nothing.
        page = client.get(path)
        assert page.status_code == 200
        assert "Confirm" in page.get_data(as_text=True)
        assert "Bestätigen" in page.get_data(as_text=True)
        db.session.rollback()
        assert db.session.get(Ticket, sent["ticket"]).customer_id != ada.id
        done = client.post(path)
        assert done.status_code == 200 and "bestätigt" in done.get_data(as_text=True)
        db.session.rollback()
        assert db.session.get(Ticket, sent["ticket"]).customer_id == ada.id
        assert db.session.get(Customer, ada.id).values("chat") == [visitor_id]
        assert db.session.get(ChatVisitor, visitor_id).verified is True
        # Used once: a second time is refused.
        assert client.post(path).status_code == 400
        # Now the transcript may go to the proven address.
        assert visitor.call("transcript") == {"ok": True}
        # And the visitor counts as identified from now on.
        again = Visitor(live_server, chat.address, visitor=visitor_id, secret=handed["secret"])
        try:
            assert again.wait_for("session")["identified"] is True
        finally:
            again.close()
    finally:
        visitor.close()
    transcript = next(
        (to, m) for to, m in mails(smtp_server) if str(m["Subject"]).startswith("Your chat")
    )
    assert transcript[0] == ["ada@example.com"]
    assert transcript[1]["Auto-Submitted"] == "auto-replied"
    db.session.rollback()
    assert len(db.session.execute(select(Message)).all()) == 1
