"""Live chat over the real /chat namespace: visitors and agents as real Socket.IO clients
on the served app; agents answer through the real API; offline replies and transcripts
go out through a real SMTP server."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest
import socketio
from sqlalchemy import select

from helpdesk.channels.chat.services import create_chat_channel, identity_hash
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket
from tests.fixtures.agents import login
from tests.fixtures.sockets import Listener
from tests.fixtures.sockets import Visitor as ChatVisitor

SHOP = "https://shop.example"
CONFIRM_SUBJECT = "Confirm your email address / Bitte bestätigen Sie Ihre E-Mail-Adresse"
_LINK = re.compile(r"https?://\S+(/chat/confirm/[A-Za-z0-9._-]+)")


def confirmation_path(smtp_server, address: str) -> str:
    """The path of the last confirmation link the SMTP server got for ``address``."""
    for raw in reversed(smtp_server.handler_obj.received):
        mail = message_from_bytes(raw["data"], policy=policy.default)
        if raw["to"] == [address] and str(mail["Subject"]) == CONFIRM_SUBJECT:
            return _LINK.search(mail.get_content()).group(1)
    raise AssertionError(f"no confirmation mail to {address}")


def Visitor(url, key, origin=SHOP, **auth):  # noqa: N802 - reads like the class it makes
    """A visitor on the shop's website."""
    return ChatVisitor(url, key, origin, **auth)


@pytest.fixture
def chat(app):
    channel, secret = create_chat_channel("Shop chat", team="Support", origins=[SHOP])
    db.session.commit()
    return channel, secret


@pytest.fixture
def pat(make_agent):
    return make_agent("pat@example.com", teams=["Support"])


@pytest.mark.slow
def test_visitor_and_agent_talk_both_ways_and_notes_stay_inside(
    live_server, chat, pat, make_token, api_as
):
    channel, _ = chat
    agent = Listener(live_server, auth={"token": make_token(pat)})
    visitor = Visitor(live_server, channel.address)
    try:
        session = visitor.wait_for("session")
        assert session["visitor"].startswith("v_") and session["ticket"] is None
        assert session["online"] is True and session["greeting"]
        answer = visitor.call("message", {"text": "Wo ist mein <b>Paket</b>?", "client_id": "c1"})
        assert set(answer) == {"id", "ticket"}, answer
        created = agent.wait_for("message.created")
        assert created["message"]["body_text"] == "Wo ist mein <b>Paket</b>?"
        assert created["ticket"]["channel"] == "chat"
        assert created["ticket"]["team"]["name"] == "Support"
        echo = visitor.wait_for("message", where=lambda d: d["id"] == answer["id"])
        assert echo["author"] == "visitor" and echo["text"] == "Wo ist mein <b>Paket</b>?"

        api = api_as(pat)
        url = f"/api/v1/tickets/{answer['ticket']}/messages"
        assert (
            api.post(url, json={"body": "Nur intern: Kunde nervt", "internal": True}).status_code
            == 201
        )
        reply = api.post(url, json={"body": "Ist unterwegs!"})
        assert reply.status_code == 201, reply.json
        # The reply, sent after the note, is the sentinel: the note would have come first.
        earlier = visitor.before("message", where=lambda d: d["author"] == "agent")
        got = visitor.wait_for("message", where=lambda d: d["author"] == "agent")
        assert got == {
            "id": reply.json["id"],
            "text": "Ist unterwegs!",
            "author": "agent",
            "name": "Pat",
            "at": got["at"],
        }
        assert "Nur intern: Kunde nervt" not in [d["text"] for e, d in earlier if e == "message"]
        assert "Nur intern: Kunde nervt" not in visitor.texts()
        db.session.rollback()
        assert db.session.get(Message, reply.json["id"]).status == "sent"
        # The same client id again (a retry) stores nothing new.
        again = visitor.call("message", {"text": "Wo ist mein <b>Paket</b>?", "client_id": "c1"})
        assert again["id"] == answer["id"]
    finally:
        visitor.close()
        agent.close()


@pytest.mark.slow
def test_reload_and_second_tab_continue_the_conversation_and_others_see_nothing(
    live_server, chat, pat, api_as, make_token
):
    channel, _ = chat
    online = Listener(live_server, auth={"token": make_token(pat)})  # pat is at work
    first = Visitor(live_server, channel.address)
    stranger = Visitor(live_server, channel.address)
    try:
        handed = first.wait_for("session")
        visitor_id = handed["visitor"]
        sent = first.call("message", {"text": "Hallo"})
        # reload / new tab: the widget sends the id and the secret it was handed
        second = Visitor(live_server, channel.address, visitor=visitor_id, secret=handed["secret"])
        try:
            session = second.wait_for("session")
            assert session["visitor"] == visitor_id and session["ticket"] == sent["ticket"]
            assert [m["text"] for m in session["history"]] == ["Hallo"]
            second.call("message", {"text": "Noch da?"})
            first.wait_for("message", where=lambda d: d["text"] == "Noch da?")
            api_as(pat).post(f"/api/v1/tickets/{sent['ticket']}/messages", json={"body": "Ja"})
            second.wait_for("message", where=lambda d: d["text"] == "Ja")
            first.wait_for("message", where=lambda d: d["text"] == "Ja")
        finally:
            second.close()
        # The sentinel: the stranger's own message comes back to the stranger; another
        # conversation's messages, all sent before it, would have come first.
        own = stranger.call("message", {"text": "Sentinel"})
        earlier = stranger.before("message", where=lambda d: d["id"] == own["id"])
        assert [d["text"] for event, d in earlier if event == "message"] == []
        assert stranger.wait_for("session")["visitor"] != visitor_id
        # A made-up visitor id is just a new, empty conversation.
        guess = Visitor(live_server, channel.address, visitor="v_" + "A" * 32, secret="x" * 43)
        try:
            assert guess.wait_for("session")["history"] == []
        finally:
            guess.close()
    finally:
        first.close()
        stranger.close()
        online.close()


@pytest.mark.slow
def test_identity_token_links_the_shop_customer_and_forgeries_are_refused(
    live_server, chat, make_customer
):
    channel, secret = chat
    ada = make_customer("Ada Lovelace", emails=["ada@example.com"])
    token = f"ada@example.com:{identity_hash(secret, 'ADA@example.com')}"
    visitor = Visitor(live_server, channel.address, identity=token)
    try:
        assert visitor.wait_for("session")["identified"] is True
        sent = visitor.call("message", {"text": "Rechnung bitte"})
        db.session.rollback()
        assert db.session.get(Ticket, sent["ticket"]).customer_id == ada.id
    finally:
        visitor.close()
    for forged in (
        f"eve@example.com:{identity_hash(secret, 'ada@example.com')}",
        f"ada@example.com:{identity_hash('guessed', 'ada@example.com')}",
        "ada@example.com:",
        {"email": "ada@example.com", "hash": 5},
    ):
        with pytest.raises(socketio.exceptions.ConnectionError):
            Visitor(live_server, channel.address, identity=forged)


@pytest.mark.slow
def test_an_email_given_in_chat_finds_the_customer_who_mailed_before_once_confirmed(
    live_server, chat, inbound, mailbox, smtp_server, client
):
    channel, _ = chat
    earlier = inbound("email", "bob@example.com", "Meine Bestellung", sender_name="Bob")
    visitor = Visitor(live_server, channel.address)
    try:
        visitor.wait_for("session")
        sent = visitor.call("message", {"text": "Hallo, ich bin es"})
        answer = visitor.call("identify", {"name": "Bob", "email": "Bob@Example.com"})
        assert answer == {"ok": True, "verified": False, "confirmation_sent": True}
        assert visitor.call("identify", {"email": "not an address"})["error"]
        db.session.rollback()
        assert db.session.get(Ticket, sent["ticket"]).customer_id != earlier.customer.id
        path = confirmation_path(smtp_server, "bob@example.com")
        assert client.post(path).status_code == 200
        db.session.rollback()
        ticket = db.session.get(Ticket, sent["ticket"])
        assert ticket.customer_id == earlier.customer.id  # one customer, both channels
        assert sorted(i.kind for i in ticket.customer.identities) == ["chat", "email"]
        assert ticket.customer.unverified_email is None
    finally:
        visitor.close()


@pytest.mark.slow
def test_wrong_origin_unknown_key_and_rate_limits(live_server, chat, app):
    channel, _ = chat
    for origin in ("https://evil.example", "null"):
        with pytest.raises(socketio.exceptions.ConnectionError):
            Visitor(live_server, channel.address, origin=origin)
    with pytest.raises(socketio.exceptions.ConnectionError):
        Visitor(live_server, "chat_no-such-key")
    app.config["CHAT_MESSAGES_PER_MINUTE"] = 3
    visitor = Visitor(live_server, channel.address)
    try:
        visitor.wait_for("session")
        assert visitor.call("message", {"text": "x" * 5001})["error"].startswith(
            "messages are at most"
        )
        assert visitor.call("message", {"text": ""}) == {"error": "empty message"}
        answers = [visitor.call("message", {"text": f"spam {n}"}) for n in range(4)]
        assert ["id" in a for a in answers] == [True, True, True, False]
        assert answers[-1]["error"].startswith("rate limited")
        db.session.rollback()
        assert len(db.session.execute(select(Message)).all()) == 3
    finally:
        visitor.close()
    app.config["CHAT_CONNECTS_PER_MINUTE"] = 0
    with pytest.raises(socketio.exceptions.ConnectionError):
        Visitor(live_server, channel.address)


@pytest.mark.slow
def test_agent_typing_and_read_receipts_reach_the_visitor(
    live_server, chat, pat, make_token, client
):
    channel, _ = chat
    visitor = Visitor(live_server, channel.address)
    agent = Listener(live_server, auth={"token": make_token(pat)})
    try:
        visitor.wait_for("session")
        sent = visitor.call("message", {"text": "Hallo?"})
        assert agent.call("viewing", {"ticket": sent["ticket"], "typing": True}) == {"ok": True}
        assert visitor.wait_for("typing") == {"typing": True, "name": "Pat"}
        visitor.call("typing", {"typing": True})
        assert agent.wait_for("typing") == {
            "ticket": sent["ticket"],
            "customer": True,
            "typing": True,
        }
        login(client, "pat@example.com")
        assert client.get(f"/tickets/{sent['ticket']}").status_code == 200
        assert visitor.wait_for("read") == {"up_to": sent["id"]}
    finally:
        visitor.close()
        agent.close()


@pytest.mark.slow
def test_nobody_online_the_conversation_continues_by_email(
    live_server, chat, api, mailbox, smtp_server, client
):
    channel, _ = chat  # team Support has nobody online
    visitor = Visitor(live_server, channel.address)
    try:
        session = visitor.wait_for("session")
        assert session["online"] is False and session["offline_message"]
        assert visitor.call("identify", {"name": "Cleo", "email": "cleo@example.com"}) == {
            "ok": True,
            "verified": False,
            "confirmation_sent": True,
        }
        sent = visitor.call("message", {"text": "Bitte per Mail melden"})
        # Nothing but the confirmation link goes to an address typed into the chat.
        assert visitor.call("transcript")["error"].startswith("confirm your email address")
        assert client.post(confirmation_path(smtp_server, "cleo@example.com")).status_code == 200
        assert visitor.call("transcript") == {"ok": True}
    finally:
        visitor.close()
    reply = api.post(f"/api/v1/tickets/{sent['ticket']}/messages", json={"body": "Gern!"})
    assert reply.status_code == 201
    db.session.rollback()
    stored = db.session.get(Message, reply.json["id"])
    assert stored.status == "sent" and stored.recipient == "cleo@example.com"
    mails = [
        message_from_bytes(m["data"], policy=policy.default)
        for m in smtp_server.handler_obj.received
    ]
    subjects = sorted(str(m["Subject"]) for m in mails)
    assert subjects == [
        CONFIRM_SUBJECT,
        f"Re: Bitte per Mail melden [#{sent['ticket']}]",
        f"Your chat with us [#{sent['ticket']}]",
    ]
    transcript = next(m for m in mails if str(m["Subject"]).startswith("Your chat"))
    assert "Bitte per Mail melden" in transcript.get_content()
    assert all(
        str(m["To"]).endswith("cleo@example.com>") or m["To"] == "cleo@example.com" for m in mails
    )
    # The desk's own mails say so (RFC 3834); an agent's answer is a person's.
    auto = {str(m["Subject"]): m["Auto-Submitted"] for m in mails}
    assert auto == {
        CONFIRM_SUBJECT: "auto-replied",
        f"Your chat with us [#{sent['ticket']}]": "auto-replied",
        f"Re: Bitte per Mail melden [#{sent['ticket']}]": None,
    }


def test_widget_script_is_public_and_small(client):
    with client.get("/chat/widget.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        # 30 kB until the rating buttons, the admin's colours and the texts' loader came
        # in (about 9 kB gzipped); a guard against growth nobody meant
        assert len(response.data) < 36_000
