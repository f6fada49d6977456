"""The generic CTI API for non-Twilio phone systems, and the caller lookup it shares."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from helpdesk import unit_of_work
from helpdesk.extensions import db
from helpdesk.tickets.models import Call, Message, Ticket
from tests.fixtures.sockets import Listener
from tests.fixtures.twilio import OUR_NUMBER

EVENTS = "/api/v1/cti/events"
CALLER = "+49301234567"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def the_call() -> Call:
    db.session.expire_all()
    return db.session.execute(select(Call)).scalar_one()


@pytest.fixture
def pbx(api_as, office):
    """The PBX's API client (its token, of scope cti, belongs to a lead of team Phones)."""
    from helpdesk.agents.services import create_agent

    with unit_of_work.write_phase():  # the office's agents may be writing their presence
        agent, _ = create_agent("pbx@example.com", "PBX", "lead", ["Phones"], "correct horse")
        db.session.commit()
    return api_as(agent, "cti")


@pytest.fixture
def eva(make_customer, inbound):
    """A known caller with an open ticket."""
    customer = make_customer("Eva Example", phones=["030 1234567"])
    inbound("sms", CALLER, "Rückruf bitte")
    return customer


def event(pbx, name, call_id="pbx-1", **fields):
    body = {
        "event": name,
        "callId": call_id,
        "from": CALLER,
        "to": OUR_NUMBER,
        "direction": "in",
        **fields,
    }
    return pbx.post(EVENTS, json=body)


@pytest.mark.slow
def test_new_call_pops_the_card_and_answers_with_it(live_server, office, eva, make_token, inbound):
    token = make_token(office.pat)
    pat = Listener(live_server, auth={"token": token})
    bill = Listener(live_server, auth={"token": make_token(office.bill)})
    try:
        response = requests.post(
            live_server + EVENTS,
            timeout=10,
            headers={"Authorization": f"Bearer {make_token(office.pat, 'cti')}"},
            json={
                "event": "newCall",
                "callId": "4711",
                "from": "030 1234567",
                "to": OUR_NUMBER,
                "direction": "in",
            },
        )
        popped = pat.wait_for("call.incoming")
        sentinel = inbound("sms", "+4915100000001", "Sentinel").ticket  # no team: Bill sees it
        assert bill.before_ticket(sentinel.id) == []
    finally:
        pat.close()
        bill.close()
    assert response.status_code == 201, response.text
    card = response.json()
    assert card["customer"]["name"] == "Eva Example"
    assert [t["subject"] for t in card["open_tickets"]] == ["Rückruf bitte"]
    assert card["call"]["provider"] == "cti" and card["call"]["status"] == "ringing"
    assert popped["card"]["customer"]["id"] == eva.id and popped["call"]["id"] == card["call"]["id"]


def test_a_whole_answered_call_is_filed_in_the_history(pbx, office, eva, api):
    assert event(pbx, "newCall").status_code == 201
    again = event(pbx, "newCall")  # the PBX retries: the same call, not a second one
    assert again.status_code == 200 and count(Call) == 1
    answered = event(pbx, "answer", user="pat@example.com")
    assert answered.status_code == 200 and answered.json["call"]["status"] == "in-progress"
    assert answered.json["call"]["agent_id"] == office.pat.id
    for _ in range(2):
        hung_up = event(pbx, "hangup", cause="normalClearing")
        assert hung_up.status_code == 200 and hung_up.json["call"]["status"] == "completed"
    call = the_call()
    assert call.ended_at is not None and call.duration is not None and call.ticket_id
    entry = db.session.execute(select(Message).where(Message.channel == "voice")).scalar_one()
    assert entry.body_text.startswith(f"Phone call from {CALLER} with Pat")
    items = api.get(f"/api/v1/customers/{eva.id}/timeline").json["items"]
    assert {"call", "message", "ticket"} <= {item["type"] for item in items}


@pytest.mark.parametrize(
    "cause, status",
    [
        ("cancel", "canceled"),
        ("busy", "busy"),
        ("noAnswer", "no-answer"),
        ("normalClearing", "no-answer"),
        ("congestion", "failed"),
    ],
)
def test_unanswered_calls_open_a_callback_ticket(pbx, office, eva, cause, status):
    event(pbx, "newCall")
    event(pbx, "hangup", cause=cause)
    call = the_call()
    assert call.status == status and call.answered_at is None
    ticket = db.session.get(Ticket, call.ticket_id)
    assert ticket.subject == "Callback: missed call from Eva Example"
    assert ticket.team_id == office.team.id


def test_form_events_as_pbxes_send_them(pbx, office, eva):
    response = pbx.post(
        EVENTS,
        data={
            "event": "newCall",
            "callId": "sip-9",
            "from": "030 1234567",
            "to": OUR_NUMBER,
            "direction": "in",
            "user[]": "Pat",
            "fullUserId[]": "123",
        },
    )
    assert response.status_code == 201 and response.json["customer"]["id"] == eva.id
    assert (
        pbx.post(
            EVENTS, data={"event": "answer", "callId": "sip-9", "user[]": "Pat", "direction": "in"}
        ).json["call"]["agent_id"]
        == office.pat.id
    )


def test_outbound_call_is_not_a_screen_pop_and_is_filed_when_answered(pbx, office, eva):
    body = {"from": OUR_NUMBER, "to": "030 1234567", "direction": "out", "user": "Pat"}
    first = event(pbx, "newCall", "out-1", **body)
    assert first.status_code == 201 and first.json["customer"]["id"] == eva.id
    event(pbx, "answer", "out-1", **body)
    event(pbx, "hangup", "out-1", cause="normalClearing", **body)
    call = the_call()
    assert (call.direction, call.status, call.agent_id) == ("out", "completed", office.pat.id)
    entry = db.session.execute(select(Message).where(Message.channel == "voice")).scalar_one()
    assert entry.body_text.startswith("Phone call to +49301234567 with Pat")
    event(pbx, "newCall", "out-2", **body)
    event(pbx, "hangup", "out-2", cause="noAnswer", **body)
    assert count(Message.__table__) == 2  # the SMS and the answered call; no callback for ours


def test_events_for_a_call_first_heard_of_mid_call_are_kept(pbx, office):
    assert event(pbx, "hangup", "late-1", cause="busy").status_code == 200
    call = the_call()
    assert (call.provider_id, call.status) == ("late-1", "busy")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"event": "ring", "callId": "1"}, "event"),
        ({"event": "newCall"}, "callId"),
        ({"event": "newCall", "callId": "1", "direction": "sideways"}, "direction"),
        ({"event": "newCall", "callId": "x" * 101}, "callId"),
        ({"event": "newCall", "callId": "1", "from": "1" * 65}, "from"),
    ],
)
def test_invalid_events_are_refused_naming_the_field(pbx, office, body, field):
    response = pbx.post(EVENTS, json=body)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    assert count(Call) == 0


def test_malformed_and_unauthenticated_requests_store_nothing(client, pbx, office):
    assert pbx.post(EVENTS, data=b"{not json", content_type="application/json").status_code == 400
    invalid_utf8 = b'{"event": "newCall", "callId": "\xff\xfe", "from": "030 1234567"}'
    response = pbx.post(EVENTS, data=invalid_utf8, content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "malformed_json"
    huge = pbx.post(EVENTS, json={"event": "newCall", "callId": "1", "from": "☎" * 10_240})
    assert huge.status_code == 422 and "from" in huge.json["error"]["fields"]
    assert pbx.post(EVENTS, data=b"event=newCall", content_type="text/plain").status_code == 400
    response = client.post(EVENTS, json={"event": "newCall", "callId": "1", "from": CALLER})
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert count(Call) == 0


@pytest.mark.parametrize("sender", ["anonymous", "client:alice", "+0000", "", None])
def test_callers_without_a_number_get_the_unknown_card(pbx, office, sender):
    body = {"event": "newCall", "callId": "anon", "to": OUR_NUMBER}
    if sender is not None:
        body["from"] = sender
    response = pbx.post(EVENTS, json=body)
    assert response.status_code == 201
    assert response.json["customer"] is None and response.json["caller"]["e164"] is None


@pytest.mark.parametrize(
    "written",
    ["0049 30 1234567", "+49 (30) 1234567", "030 1234567", "+49301234567", "030/123 45 67"],
)
def test_lookup_finds_the_same_customer_however_the_number_is_written(api, eva, written):
    response = api.get("/api/v1/lookup", query_string={"phone": written})
    assert response.status_code == 200
    assert response.json["customer"]["id"] == eva.id
    assert [t["subject"] for t in response.json["open_tickets"]] == ["Rückruf bitte"]


@pytest.mark.parametrize("written", ["+4915199999999", "client:alice", "anonymous"])
def test_lookup_of_an_unknown_number_is_a_card_with_customer_null(api, eva, written):
    response = api.get("/api/v1/lookup", query_string={"phone": written})
    assert response.status_code == 200 and response.json["customer"] is None
    assert response.json["query"] == {"phone": written}


# --- issue 15, finding 3: CTI tokens of their own kind; the card follows the named agent


def test_an_agents_api_token_is_refused_and_stores_nothing(api_as, office, eva):
    """Any agent's token used to post newCall and got the line's team's tickets on the
    card (and hangups filed calls into other teams' tickets): only scope cti counts."""
    bill = api_as(office.bill)  # an API token of an agent of Billing
    response = event(bill, "newCall")
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert "open_tickets" not in response.json
    assert event(bill, "hangup").status_code == 401
    assert count(Call) == 0


def test_a_cti_token_opens_nothing_but_the_cti_api(client, make_token, office):
    cti = {"Authorization": f"Bearer {make_token(office.pat, 'cti')}"}
    assert client.get("/api/v1/tickets", headers=cti).status_code == 401
    assert client.get("/api/v1/lookup?phone=030%201234567", headers=cti).status_code == 401


def test_the_card_shows_what_the_named_agent_may_open(pbx, office, eva, make_ticket):
    phones = make_ticket(eva, "Phones matter", body="secret of Phones", team=office.team.id)
    for call_id, user, expected in (
        ("c-1", "bill@example.com", set()),  # Bill (Billing) may open neither Phones' ticket
        ("c-2", "pat@example.com", {phones}),  # Pat is in Phones
        ("c-3", None, {phones}),  # nobody named: what the line's team may open
    ):
        fields = {"user": user} if user else {}
        card = event(pbx, "newCall", call_id=call_id, **fields)
        assert card.status_code == 201, card.json
        shown = {t["id"] for t in card.json["open_tickets"]}
        assert {phones} & shown == expected, (user, shown)
        assert card.json["customer"]["id"] == eva.id
