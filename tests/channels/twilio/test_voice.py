"""Incoming Twilio calls: the screen pop over a real Socket.IO connection, the TwiML
routing, and the lifecycle that files every call in the customer's history."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import func, select

from helpdesk.channels.twilio import voice as twilio_voice
from helpdesk.extensions import db
from helpdesk.tickets.models import Call, Message, Ticket
from tests.fixtures.agents import login
from tests.fixtures.corpora import corpus
from tests.fixtures.sockets import Listener
from tests.fixtures.twilio import ACCOUNT, OUR_NUMBER, call_params, post_signed, sign, twilio_config

VOICE = "/webhooks/twilio/voice"
STATUS = "/webhooks/twilio/voice/status"
CALLER = "+49301234567"


@pytest.fixture
def app_config(twilio_api):
    """Every app of these tests talks to the local Twilio stand-in."""
    return twilio_config(twilio_api)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    return ET.fromstring(response.data)


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def the_call() -> Call:
    db.session.expire_all()
    return db.session.execute(select(Call)).scalar_one()


@pytest.fixture
def known_caller(api, make_customer, inbound):
    """Eva of ACME: one open ticket, one order."""
    org = api.post("/api/v1/organizations", json={"name": "ACME GmbH"}).json
    eva = make_customer(
        "Eva Example",
        phones=["030 1234567"],
        emails=["eva@acme.example"],
        organization_id=org["id"],
    )
    inbound("email", "eva@acme.example", "Where is my invoice?", subject="Invoice missing")
    response = api.put(
        "/api/v1/orders/A-1001",
        json={"customer": eva.id, "status": "shipped", "total": "99.90", "currency": "EUR"},
    )
    assert response.status_code == 201, response.json
    return eva


@pytest.mark.slow
def test_incoming_call_pops_the_card_on_team_screens_only(
    live_server, office, known_caller, make_token, inbound
):
    pat = Listener(live_server, auth={"token": make_token(office.pat)})
    bill = Listener(live_server, auth={"token": make_token(office.bill)})
    try:
        params = call_params(CALLER, CallerName="EXAMPLE EVA")
        url = live_server + VOICE
        started = time.perf_counter()
        response = requests.post(
            url, data=params, timeout=10, headers={"X-Twilio-Signature": sign(url, params)}
        )
        assert response.status_code == 200, response.text
        popped = pat.wait_for("call.incoming")
        elapsed = time.perf_counter() - started
        sentinel = inbound("sms", "+4915100000001", "Sentinel").ticket  # no team: Bill sees it
        assert bill.before_ticket(sentinel.id) == []
    finally:
        pat.close()
        bill.close()
    assert elapsed < 2.0
    card = popped["card"]
    assert card["customer"]["name"] == "Eva Example"
    assert card["customer"]["organization"]["name"] == "ACME GmbH"
    assert [t["subject"] for t in card["open_tickets"]] == ["Invoice missing"]
    assert [o["number"] for o in card["recent_orders"]] == ["A-1001"]
    assert card["last_contact"]["channel"] == "email"
    assert popped["call"]["from"] == CALLER and popped["call"]["status"] == "ringing"
    assert popped["caller"] == {"number": CALLER, "e164": CALLER, "name": "EXAMPLE EVA"}
    assert popped["line"]["name"] == "Hotline"
    root = ET.fromstring(response.content)
    assert verbs(root) == ["Say", "Dial"]
    # Only Pat: online and in the number's team (Sam is offline, Bill in another team).
    assert [c.text for c in root.find("Dial")] == [f"agent_{office.pat.id}"]
    assert root.find("Dial").get("action") == STATUS


@pytest.mark.slow
def test_unknown_caller_gets_an_unknown_card_with_the_number(live_server, office, make_token):
    pat = Listener(live_server, auth={"token": make_token(office.pat)})
    try:
        params = call_params("+4915199999999")
        url = live_server + VOICE
        requests.post(
            url, data=params, timeout=10, headers={"X-Twilio-Signature": sign(url, params)}
        )
        popped = pat.wait_for("call.incoming")
    finally:
        pat.close()
    assert popped["card"]["customer"] is None and popped["card"]["open_tickets"] == []
    assert popped["card"]["query"] == {"phone": "+4915199999999"}
    assert popped["caller"]["number"] == "+4915199999999"


def test_retry_of_the_incoming_webhook_records_one_call(client, office):
    params = call_params(CALLER)
    first = post_signed(client, VOICE, params)
    again = post_signed(client, VOICE, params)
    assert first.data == again.data
    assert count(Call) == 1


def other_days() -> str:
    today = datetime.now(UTC).weekday()
    tomorrow = twilio_voice.DAYS[(today + 1) % 7]
    return f"{tomorrow} 00:00-23:59"


def test_outside_business_hours_callers_reach_voicemail(client, office):
    office.line.settings = {
        "hours": other_days(),
        "timezone": "UTC",
        "closed": "Wir sind gerade nicht da.",
        "language": "de-DE",
    }
    db.session.commit()
    root = twiml(post_signed(client, VOICE, call_params(CALLER)))
    assert verbs(root) == ["Say", "Say", "Record", "Say", "Hangup"]
    assert root[0].text == "Wir sind gerade nicht da." and root[0].get("language") == "de-DE"
    assert root.find("Record").get("action") == STATUS


def test_no_one_online_means_voicemail_and_all_busy_means_the_queue(client, office):
    office.pat.presence = "away"
    db.session.commit()
    assert "Record" in verbs(twiml(post_signed(client, VOICE, call_params(CALLER))))
    office.pat.presence = "online"
    db.session.add(
        Call(
            provider="twilio",
            provider_id="CAbusy",
            direction="in",
            status="in-progress",
            agent_id=office.pat.id,
            meta={},
        )
    )
    db.session.commit()
    root = twiml(post_signed(client, VOICE, call_params(CALLER)))
    assert verbs(root) == ["Say", "Enqueue"]
    assert root.find("Enqueue").text == f"team-{office.team.id}"


def test_hours_parse_and_refuse_nonsense():
    (opening,) = twilio_voice.parse_hours("mon-fri 09:00-17:00")
    assert opening.days == frozenset(range(5))
    assert twilio_voice.parse_hours("sat-mon 10:00-12:00")[0].days == frozenset({5, 6, 0})
    monday_noon = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)  # 12:00 in Berlin
    settings = {"hours": "mon-fri 09:00-12:00", "timezone": "Europe/Berlin"}
    assert twilio_voice.is_open(settings, monday_noon) is False
    assert twilio_voice.is_open({**settings, "timezone": "UTC"}, monday_noon) is True
    from helpdesk.errors import Invalid

    for bad in ("someday 09:00-17:00", "mon 9-17", "mon 25:00-26:00"):
        with pytest.raises(Invalid):
            twilio_voice.parse_hours(bad)


def status(client, sid, **params):
    base = {
        "CallSid": sid,
        "AccountSid": ACCOUNT,
        "From": CALLER,
        "To": OUR_NUMBER,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    return post_signed(client, STATUS, {**base, **params})


def test_answered_call_is_filed_as_a_ticket_entry_in_the_timeline(
    client, office, known_caller, api
):
    params = call_params(CALLER)
    sid = params["CallSid"]
    post_signed(client, VOICE, params)
    child = {
        "ParentCallSid": sid,
        "To": f"client:agent_{office.pat.id}",
        "CallStatus": "in-progress",
        "Direction": "outbound-dial",
    }
    assert verbs(twiml(status(client, "CAchild1", **child))) == []
    call = the_call()
    assert (call.status, call.agent_id) == ("in-progress", office.pat.id)
    assert call.answered_at is not None
    assert verbs(
        twiml(status(client, sid, CallStatus="in-progress", DialCallStatus="completed"))
    ) == ["Hangup"]
    for _ in range(2):  # Twilio's retry changes nothing twice
        assert verbs(twiml(status(client, sid, CallStatus="completed", CallDuration="95"))) == []
    call = the_call()
    assert (call.status, call.duration) == ("completed", 95)
    entry = db.session.execute(select(Message).where(Message.channel == "voice")).scalar_one()
    assert entry.body_text == f"Phone call from {CALLER} with Pat, 1:35 min."
    assert call.ticket_id == entry.ticket_id and call.customer_id == known_caller.id
    ticket = db.session.get(Ticket, call.ticket_id)
    assert ticket.channel == "voice" and ticket.subject == "Phone call with Eva Example"
    note = api.post(
        f"/api/v1/tickets/{ticket.id}/messages",
        json={"body": "Promised a credit note", "internal": True},
    )
    assert note.status_code == 201  # the agent annotates the call
    items = api.get(f"/api/v1/customers/{known_caller.id}/timeline").json["items"]
    kinds = [item["type"] for item in items]
    assert "call" in kinds and "message" in kinds
    [shown] = [item["call"] for item in items if item["type"] == "call"]
    assert shown["status"] == "completed" and shown["ticket_id"] == ticket.id


def test_missed_call_opens_a_callback_ticket_once(client, office):
    params = call_params(CALLER)
    sid = params["CallSid"]
    post_signed(client, VOICE, params)
    root = twiml(status(client, sid, CallStatus="in-progress", DialCallStatus="no-answer"))
    assert "Record" in verbs(root)  # nobody answered: the caller may leave a message
    for _ in range(2):
        status(client, sid, CallStatus="completed", CallDuration="31")
    ticket = db.session.execute(select(Ticket)).unique().scalar_one()
    assert ticket.subject == f"Callback: missed call from {CALLER}"
    entry = db.session.execute(select(Message)).scalar_one()
    assert entry.meta["callback"] is True and "please call back" in entry.body_text
    assert the_call().ticket_id == ticket.id


@pytest.mark.parametrize("final", ["busy", "no-answer", "failed", "canceled"])
def test_calls_that_never_connect_are_missed_calls(client, office, final):
    params = call_params(CALLER)
    post_signed(client, VOICE, params)
    status(client, params["CallSid"], CallStatus=final)
    call = the_call()
    assert call.status == final and call.ticket_id is not None
    assert db.session.execute(select(Message)).scalar_one().meta["call"] == "missed"


def test_voicemail_becomes_a_ticket_message_with_its_recording(client, office, twilio_api, api_as):
    audio = b"ID3" + bytes(range(256)) * 8
    recording = twilio_api.add_media("audio/mpeg", audio)
    params = call_params(CALLER)
    sid = params["CallSid"]
    office.pat.presence = "offline"
    db.session.commit()
    assert "Record" in verbs(twiml(post_signed(client, VOICE, params)))
    root = twiml(
        status(
            client,
            sid,
            CallStatus="in-progress",
            RecordingUrl=recording,
            RecordingSid="RE123",
            RecordingDuration="14",
            Digits="hangup",
        )
    )
    assert verbs(root) == ["Say", "Hangup"]
    status(client, sid, CallStatus="completed", CallDuration="40", RecordingUrl=recording)
    db.session.expire_all()
    [entry] = db.session.execute(select(Message)).scalars().all()  # no extra "missed" entry
    assert entry.body_text == f"Voicemail from {CALLER} (14 s)."
    [attachment] = entry.attachments
    assert attachment.content_type == "audio/mpeg" and attachment.size == len(audio)
    call = the_call()
    assert call.recording_url == recording and call.ticket_id == entry.ticket_id
    assert call.status == "completed" and call.duration == 40

    # It plays in the ticket, for an agent of the line's team only (through our server:
    # the browser never sees the Twilio address).
    login(client, "sam@example.com")
    page = client.get(f"/tickets/{entry.ticket_id}").get_data(as_text=True)
    assert (
        f'<audio class="recording" controls preload="none" src="/attachments/{attachment.id}"'
        in page
    )
    assert recording not in page
    played = client.get(f"/attachments/{attachment.id}")
    assert played.status_code == 200 and played.data == audio
    assert played.mimetype == "audio/mpeg" and "attachment" not in played.headers.get(
        "Content-Disposition", ""
    )
    billing = api_as(office.bill)  # by its API token (the same rule as the session)
    assert billing.get(f"/attachments/{attachment.id}").status_code == 404


def test_status_callback_of_a_call_we_did_not_see_ring_is_recorded(client, office):
    response = status(
        client,
        "CAoutbound",
        From=OUR_NUMBER,
        To=CALLER,
        Direction="outbound-api",
        CallStatus="completed",
        CallDuration="12",
    )
    assert response.status_code == 200
    call = the_call()
    assert (call.direction, call.status, call.to_number) == ("out", "completed", CALLER)


@pytest.mark.parametrize("sender", ["anonymous", "client:alice", "+0000", None])
def test_callers_without_a_usable_number_still_get_answered(client, office, sender):
    params = call_params(sender or "")
    if sender is None:
        del params["From"], params["Caller"]
    root = twiml(post_signed(client, VOICE, params))
    assert "Dial" in verbs(root)
    call = the_call()
    assert call.customer_id is None and call.from_number == sender
    status(client, params["CallSid"], CallStatus="no-answer", From=sender or "")
    assert db.session.execute(select(Message)).scalar_one().needs_review


def test_a_huge_unicode_caller_name_is_cut_not_refused(client, office):
    params = call_params(CALLER, CallerName="Ådå 📞 " * 1500)
    assert "Dial" in verbs(twiml(post_signed(client, VOICE, params)))
    assert the_call().meta["caller_name"] == ("Ådå 📞 " * 1500)[:200].strip()


def test_missing_call_sid_is_a_clear_422(client, office):
    params = call_params(CALLER)
    del params["CallSid"]
    response = post_signed(client, VOICE, params)
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"CallSid": "required"}
    assert count(Call) == 0


@pytest.mark.parametrize("path", [VOICE, STATUS])
def test_unsigned_voice_webhooks_are_refused(client, office, path):
    params = call_params(CALLER, CallStatus="completed")
    for headers in ({}, {"X-Twilio-Signature": sign("http://localhost/elsewhere", params)}):
        assert client.post(path, data=params, headers=headers).status_code == 403
    replay = {**params, "From": "+4915100000000"}
    response = client.post(
        path, data=replay, headers={"X-Twilio-Signature": sign("http://localhost" + path, params)}
    )
    assert response.status_code == 403
    assert count(Call) == 0 and count(Message) == 0


def test_real_postbin_call_is_recorded_with_its_caller_name(client, office):
    payload = json.loads((corpus("twilio", "voice") / "inbound_call_postbin_2011.json").read_text())
    params = {**payload["params"], "To": OUR_NUMBER, "Called": OUR_NUMBER}
    assert twiml(post_signed(client, VOICE, params)) is not None
    call = the_call()
    assert call.from_number == payload["expect"]["caller_number"]
    assert call.direction == "in" and call.status == payload["expect"]["state"]
    assert call.meta["caller_name"] == payload["expect"]["caller_name_cnam"]


def test_phone_add_routes_a_number_to_a_team(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "phone",
            "add",
            "030 555 0001",
            "--team",
            "Phones",
            "--hours",
            "mon-fri 08:00-18:00",
            "--timezone",
            "Europe/Berlin",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "+49305550001" in result.output and "team Phones" in result.output
    from helpdesk.channels.models import Channel

    channel = db.session.execute(select(Channel)).unique().scalar_one()
    assert (channel.kind, channel.address, channel.team.name) == ("phone", "+49305550001", "Phones")
    assert channel.settings == {"hours": "mon-fri 08:00-18:00", "timezone": "Europe/Berlin"}
    again = runner.invoke(args=["phone", "add", "+49 30 5550001", "--team", "Billing"])
    assert again.exit_code == 0 and "updated" in again.output
    db.session.expire_all()
    assert db.session.execute(select(Channel)).unique().scalar_one().team.name == "Billing"
    for bad in (
        ["phone", "add", "not-a-number"],
        ["phone", "add", "+4930555", "--hours", "x"],
        ["phone", "add", "+4930555", "--timezone", "Mars/Olympus"],
    ):
        result = runner.invoke(args=bad)
        assert result.exit_code != 0 and "Error" in result.output


def test_the_hot_path_runs_a_fixed_handful_of_queries(
    client, office, make_customer, api, count_queries, make_ticket
):
    eva = make_customer("Eva", phones=[CALLER])

    def history(n):
        for i in range(n):
            make_ticket(eva, f"Q{i}", body="?")
            assert (
                api.put(
                    f"/api/v1/orders/{eva.id}-{i}-{n}",
                    json={"customer": eva.id, "lines": [{"name": "Thing", "quantity": 1}]},
                ).status_code
                == 201
            )

    def statements():
        with count_queries() as seen:
            assert post_signed(client, VOICE, call_params(CALLER)).status_code == 200
        return [s for s in seen if s.split()[0] in ("SELECT", "INSERT", "UPDATE", "DELETE")]

    history(1)
    short = statements()
    history(12)
    long = statements()
    assert len(long) == len(short) <= 14
    assert sum(s.startswith("INSERT") for s in long) == 1  # the call; nothing else is written
