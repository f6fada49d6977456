"""The /agents namespace with real Socket.IO clients over a real server."""

from __future__ import annotations

import re

import pytest
import requests
import socketio

from helpdesk.agents.models import Team
from helpdesk.channels.models import Channel
from helpdesk.extensions import db
from tests.fixtures.sockets import Listener

pytestmark = pytest.mark.slow  # a live server


@pytest.fixture
def team_channel(app):
    """An SMS number routed to team Phones, and a second team Billing."""
    phones, billing = Team(name="Phones"), Team(name="Billing")
    db.session.add_all([phones, billing])
    db.session.flush()
    channel = Channel(kind="sms", name="Hotline", address="+4930555000", team_id=phones.id)
    db.session.add(channel)
    db.session.commit()
    return channel


def test_anonymous_connection_is_refused(live_server):
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live_server)
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live_server, auth={"token": "hd_not-a-token"})


def test_events_reach_exactly_the_agents_who_may_see_the_ticket(
    live_server, make_agent, make_token, team_channel, inbound
):
    phones = make_agent("pat@example.com", teams=["Phones"])
    billing = make_agent("bill@example.com", teams=["Billing"])
    boss = make_agent("boss@example.com", role="admin")
    listeners = {
        name: Listener(live_server, auth={"token": make_token(agent)})
        for name, agent in (("phones", phones), ("billing", billing), ("boss", boss))
    }
    try:
        result = inbound(
            "sms",
            "+4915112345678",
            "Wo ist mein Paket?",
            channel_id=team_channel.id,
            sender_name="Eva",
        )
        created = listeners["phones"].wait_for("message.created")
        assert created["message"]["body_text"] == "Wo ist mein Paket?"
        assert created["ticket"]["id"] == result.ticket.id
        assert created["ticket"]["customer"]["name"] == "Eva"
        assert created["ticket"]["team"]["name"] == "Phones"
        ticket = listeners["phones"].wait_for("ticket.created")["ticket"]
        assert ticket["status"] == "new" and ticket["channel"] == "sms"
        listeners["boss"].wait_for("message.created")
        sentinel = inbound("sms", "+4915100000001", "Sentinel").ticket  # no team: all see it
        assert listeners["billing"].before_ticket(sentinel.id) == []
    finally:
        for listener in listeners.values():
            listener.close()


def test_reassignment_to_another_team_tells_both_sides(
    live_server, make_agent, make_token, team_channel, inbound, api
):
    phones = make_agent("pat@example.com", teams=["Phones"])
    billing = make_agent("bill@example.com", teams=["Billing"])
    result = inbound("sms", "+4915112345678", "invoice wrong", channel_id=team_channel.id)
    old, new = (Listener(live_server, auth={"token": make_token(a)}) for a in (phones, billing))
    try:
        billing_team = db.session.query(Team).filter_by(name="Billing").one()
        response = api.patch(f"/api/v1/tickets/{result.ticket.id}", json={"team": billing_team.id})
        assert response.status_code == 200, response.json
        assert new.wait_for("ticket.updated")["ticket"]["team"]["name"] == "Billing"
        assert old.wait_for("ticket.updated")["ticket"]["team"]["name"] == "Billing"
    finally:
        old.close()
        new.close()


def test_logged_in_browser_session_connects(live_server, make_agent):
    make_agent("pat@example.com", password="correct horse")
    with requests.Session() as http:  # closed: its kept-alive socket with it
        form = http.get(f"{live_server}/login").text
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        response = http.post(
            f"{live_server}/login",
            data={"email": "pat@example.com", "password": "correct horse", "csrf_token": csrf},
        )
        assert response.url.endswith("/inbox")
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    listener = Listener(live_server, headers={"Cookie": cookie})
    try:
        assert listener.client.connected
    finally:
        listener.close()


def _listener_from(live_server, origin: str, **connect) -> Listener:
    """An /agents connection whose handshake sends ``origin`` as a browser page would."""
    client = socketio.Client(reconnection=False, websocket_extra_options={"origin": origin})
    return Listener(live_server, client=client, **connect)


def test_agents_refuses_a_foreign_origin_even_with_a_token(live_server, make_agent, make_token):
    """/agents answers only our own pages (issue 15, finding 16); /chat stays open to its
    channels' origins (tests/channels/chat)."""
    token = make_token(make_agent("pat@example.com"))
    with pytest.raises(socketio.exceptions.ConnectionError):
        _listener_from(live_server, "https://evil.example", auth={"token": token})
    ours = _listener_from(live_server, live_server, auth={"token": token})
    try:
        assert ours.client.connected
    finally:
        ours.close()


def test_a_cti_token_opens_no_agent_connection(live_server, make_agent, make_token):
    agent = make_agent("pat@example.com")
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live_server, auth={"token": make_token(agent, "cti")})


def test_the_engine_answers_cors_only_for_our_pages_and_the_chat_widgets_websites(client, app):
    """Finding 16 at the Engine.IO handshake, before any namespace: a foreign origin gets no
    CORS answer; our own pages and a chat widget's website do (its namespace checks again)."""
    from helpdesk.channels.chat.services import create_chat_channel

    create_chat_channel("Shop", origins=("https://shop.example",))
    db.session.commit()
    handshake = "/socket.io/?EIO=4&transport=polling"
    foreign = client.get(handshake, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 400
    assert "Access-Control-Allow-Origin" not in foreign.headers
    for origin in ("https://shop.example", "http://localhost"):
        answer = client.get(handshake, headers={"Origin": origin})
        assert answer.status_code == 200, origin
        assert answer.headers["Access-Control-Allow-Origin"] == origin
