"""The survey by SMS (Twilio's stand-in sends it; a signed webhook with "4" answers) and
in the chat widget (a real Socket.IO visitor rates with the buttons): the answer is the rating, on
the solved ticket, which stays solved; no new ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.channels.chat.services import create_chat_channel, message_payload
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.surveys import services as surveys
from helpdesk.surveys.models import Survey
from helpdesk.tickets import replies, services
from helpdesk.tickets.models import Message, Ticket
from tests.fixtures.sockets import Visitor
from tests.fixtures.twilio import post_signed, sms_params, twilio_config
from tests.surveys.test_surveys import T0, _at, _send

SMS = "/webhooks/twilio/sms"
EVA = "+491711234567"


@pytest.fixture
def app_config(twilio_api):
    return twilio_config(twilio_api)


def _tickets() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Ticket))


def test_by_sms_reply_4_is_the_rating(client, twilio_api, make_line, make_agent, make_customer):
    make_line("Phones")
    pat = make_agent("pat@example.com", teams=["Phones"], name="Pat")
    make_customer("Eva", phones=[EVA])
    with time_machine.travel(T0, tick=False):
        assert post_signed(client, SMS, sms_params("Wo ist mein Paket?", EVA)).status_code == 200
    ticket_id = db.session.execute(select(Ticket.id)).scalar_one()
    _at(
        T0 + timedelta(minutes=5),
        lambda: replies.reply(db.session.get(Ticket, ticket_id), "Da!", pat),
    )
    _at(
        T0 + timedelta(hours=1),
        lambda: services.update_ticket(
            db.session.get(Ticket, ticket_id), {"status": "solved"}, pat
        ),
    )
    assert _send(T0 + timedelta(hours=2, minutes=1)) == 1
    asked = twilio_api.messages()[-1].form["Body"][0]
    assert "Reply with a number from 1 (bad) to 5 (great)" in asked

    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        assert post_signed(client, SMS, sms_params(" 4 ", EVA)).status_code == 200
    assert _tickets() == 1
    ticket = db.session.get(Ticket, ticket_id)
    assert ticket.status == "solved" and ticket.csat["rating"] == 4
    assert db.session.execute(select(Survey.rating)).scalar_one() == 4
    assert twilio_api.messages()[-1].form["Body"][0] == "Thank you for your rating!"
    texts = (
        db.session.execute(
            select(Message.body_text).where(Message.ticket_id == ticket_id).order_by(Message.id)
        )
        .scalars()
        .all()
    )
    assert texts[-2:] == [" 4 ", "Thank you for your rating!"]

    # Answered: another "4" is a message like any other (a new conversation).
    with time_machine.travel(T0 + timedelta(hours=4), tick=False):
        post_signed(client, SMS, sms_params("4", EVA))
    assert _tickets() == 2


@pytest.mark.slow
def test_in_chat_the_visitor_rates_with_the_buttons(live_server, make_agent, api_as):
    shop = "https://shop.example"
    channel, _ = create_chat_channel("Shop chat", team="Support", origins=[shop])
    db.session.commit()
    pat = make_agent("pat@example.com", teams=["Support"], name="Pat")
    visitor = Visitor(live_server, channel.address, shop)
    stranger = Visitor(live_server, channel.address, shop)
    try:
        visitor.wait_for("session")
        stranger.wait_for("session")
        ticket_id = visitor.call("message", {"text": "Hallo?", "client_id": "c1"})["ticket"]
        api = api_as(pat)
        assert (
            api.post(f"/api/v1/tickets/{ticket_id}/messages", json={"body": "Hi!"}).status_code
            == 201
        )
        assert (
            api.patch(f"/api/v1/tickets/{ticket_id}", json={"status": "solved"}).status_code == 200
        )
        db.session.rollback()
        with unit_of_work.write_phase():
            assert surveys.send_due(now=utcnow() + timedelta(minutes=61)) == 1
        asked = visitor.wait_for("message", where=lambda d: d.get("survey"))
        assert "with the buttons below" in asked["text"]
        prompt = asked["survey"]
        assert prompt["open"] is True and prompt["rating"] is None
        assert prompt["labels"] == ["very bad", "bad", "okay", "good", "very good"]

        # Only the conversation's own visitor may answer; a rating is 1 to 5.
        vote = {"survey": prompt["id"], "rating": 2, "comment": "Too slow"}
        assert stranger.call("rating", vote) == {"error": "no such survey"}
        assert "1 to 5" in visitor.call("rating", {**vote, "rating": 6})["error"]
        answer = visitor.call("rating", vote)
        assert answer["ok"] is True and answer["rating"] == 2
        assert answer["thanks"].startswith("Thank you")
        assert "answered already" in visitor.call("rating", vote)["error"]
        db.session.rollback()
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.csat["rating"] == 2 and ticket.csat["comment"] == "Too slow"
        assert ticket.status == "solved" and _tickets() == 1
    finally:
        visitor.close()
        stranger.close()

    # Drawn again later (a reload, another tab): the rating given, no buttons.
    question = db.session.get(Message, asked["id"])
    shown = message_payload(question)["survey"]
    assert shown["open"] is False and shown["rating"] == 2
