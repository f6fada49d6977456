"""Hold and resume (the customer's leg moved through Twilio's REST API), click-to-call
from the browser (the TwiML App's voice URL), and the recordings of answered calls
fetched from the Twilio stand-in into the call's ticket. The TwiML expected is built
with the twilio library's builders."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import func, select
from twilio.twiml.voice_response import VoiceResponse

from helpdesk.channels.twilio import common, voice
from helpdesk.extensions import db
from helpdesk.tickets.models import Attachment, Call, Message
from helpdesk.tickets.serializers import call_json
from tests.fixtures.agents import login
from tests.fixtures.twilio import ACCOUNT, OUR_NUMBER, call_params, post_signed, twilio_config

VOICE = "/webhooks/twilio/voice"
STATUS = "/webhooks/twilio/voice/status"
OUTBOUND = "/webhooks/twilio/voice/outbound"
RECORDING = "/webhooks/twilio/voice/recording"
CUSTOMER_NUMBER = "+4915112345678"
AUDIO = b"ID3\x04\x00fake mp3 of the call" * 50


@pytest.fixture
def app_config(twilio_api):
    return twilio_config(twilio_api)


def recorded_dial(response: VoiceResponse, **extra):
    """The <Dial> every agent or customer leg gets: recorded, outcome to the webhook."""
    return response.dial(
        timeout=extra.pop("timeout", voice.RING_SECONDS),
        action=STATUS,
        method="POST",
        answer_on_bridge=True,
        record="record-from-answer-dual",
        recording_status_callback=RECORDING,
        recording_status_callback_event="completed",
        recording_status_callback_method="POST",
        **extra,
    )


def leg(parent: str, to: str, status: str = "in-progress", sid: str | None = None) -> dict:
    """The status callback of a leg Twilio dialled for the call ``parent``."""
    return {
        "CallSid": sid or "CA" + uuid.uuid4().hex,
        "ParentCallSid": parent,
        "AccountSid": ACCOUNT,
        "From": OUR_NUMBER,
        "To": to,
        "CallStatus": status,
        "Direction": "outbound-dial",
        "CallDuration": "42" if status == "completed" else "",
    }


def answered_call(client, office) -> Call:
    """A caller rings the line and Pat takes it in the browser."""
    params = call_params(CUSTOMER_NUMBER)
    post_signed(client, VOICE, params)
    post_signed(client, STATUS, leg(params["CallSid"], f"client:agent_{office.pat.id}"))
    return db.session.execute(select(Call)).scalar_one()


def test_hold_moves_the_caller_into_hold_music_and_resume_rings_the_agent_again(
    client, office, api_as, twilio_api
):
    call = answered_call(client, office)
    pat = api_as(office.pat)
    held = pat.post(f"/api/v1/calls/{call.id}/hold")
    assert held.status_code == 200, held.json
    assert held.json["call"]["on_hold"] is True
    expected = VoiceResponse()
    expected.enqueue(f"hold-{call.id}")
    [update] = twilio_api.call_updates()
    assert update.path.endswith(f"/Calls/{call.provider_id}.json")
    assert update.form["Twiml"] == [str(expected)] == [held.json["twiml"]]
    assert pat.post(f"/api/v1/calls/{call.id}/hold").status_code == 200
    assert len(twilio_api.call_updates()) == 1  # on hold already: nothing sent again

    resumed = pat.post(f"/api/v1/calls/{call.id}/resume")
    assert resumed.status_code == 200, resumed.json
    expected = VoiceResponse()
    recorded_dial(expected).client(
        f"agent_{office.pat.id}",
        status_callback=STATUS,
        status_callback_event="answered",
        status_callback_method="POST",
    )
    assert twilio_api.call_updates()[-1].form["Twiml"] == [str(expected)]
    assert resumed.json["call"]["on_hold"] is False
    again = pat.post(f"/api/v1/calls/{call.id}/resume")
    assert again.status_code == 409 and again.json["error"]["code"]

    # Transferred to Bill, who picks up: the call is his, and Pat is free for the next.
    assert office.pat.id not in [a for a, _phone in voice.online_agents(office.team.id)[0]]
    bill = office.bill
    assert pat.post(f"/api/v1/calls/{call.id}/transfer", json={"agent": bill.id}).status_code == 200
    post_signed(client, STATUS, leg(call.provider_id, f"client:agent_{bill.id}"))
    db.session.refresh(call)
    assert call.agent_id == bill.id and call.status == "in-progress"
    assert office.pat.id in [a for a, _phone in voice.online_agents(office.team.id)[0]]

    post_signed(
        client,
        STATUS,
        {**call_params(CUSTOMER_NUMBER, sid=call.provider_id), "CallStatus": "completed"},
    )
    over = pat.post(f"/api/v1/calls/{call.id}/hold")
    assert over.status_code == 409 and over.json["error"]["fields"]["status"] == "completed"
    assert len(twilio_api.call_updates()) == 3


def outbound_params(agent_id: int, customer_id, to: str = CUSTOMER_NUMBER, sid=None) -> dict:
    """What Twilio posts to the TwiML App's voice URL for Device.connect({params})."""
    return {
        "CallSid": sid or "CA" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT,
        "ApplicationSid": "AP" + "0" * 32,
        "From": f"client:agent_{agent_id}",
        "Caller": f"client:agent_{agent_id}",
        "To": to,
        "customer": str(customer_id),
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


def test_click_to_call_dials_only_a_visible_customer_from_the_team_number(
    client, office, make_agent, make_customer
):
    ada = make_customer("Ada", phones=[CUSTOMER_NUMBER])
    make_customer("Bob", phones=["+4915199999999"])
    manager = make_agent("mia@example.com", own_accounts_only=True)  # sees her accounts only
    for refused_params in (
        outbound_params(manager.id, ada.id),  # not one of hers
        outbound_params(office.pat.id, ada.id, to="+4915199999999"),  # Bob's number
        outbound_params(office.pat.id, 999999),
        outbound_params(999999, ada.id),
    ):
        refused = post_signed(client, OUTBOUND, refused_params)
        assert refused.status_code == 404, (refused_params, refused.data)
        assert refused.json["error"]["code"]
    assert db.session.execute(select(func.count(Call.id))).scalar() == 0

    params = outbound_params(office.pat.id, ada.id)
    answer = post_signed(client, OUTBOUND, params)
    assert answer.status_code == 200, answer.data
    expected = VoiceResponse()
    recorded_dial(expected, timeout=30, caller_id=OUR_NUMBER).number(
        CUSTOMER_NUMBER,
        status_callback=STATUS,
        status_callback_event="answered completed",
        status_callback_method="POST",
    )
    assert answer.get_data(as_text=True) == str(expected)
    assert post_signed(client, OUTBOUND, params).data == answer.data  # Twilio's retry
    call = db.session.execute(select(Call)).scalar_one()
    assert (call.direction, call.customer_id, call.agent_id, call.status) == (
        "out",
        ada.id,
        office.pat.id,
        "ringing",
    )
    assert (call.from_number, call.to_number) == (OUR_NUMBER, CUSTOMER_NUMBER)

    # The customer picks up: Pat is on a call, so an incoming one does not ring them.
    customer_leg = leg(call.provider_id, CUSTOMER_NUMBER)
    post_signed(client, STATUS, customer_leg)
    db.session.refresh(call)
    assert call.status == "in-progress" and call.meta["leg"] == customer_leg["CallSid"]
    assert office.pat.id not in [a for a, _phone in voice.online_agents(office.team.id)[0]]
    post_signed(client, STATUS, {**customer_leg, "CallStatus": "completed", "CallDuration": "42"})
    db.session.refresh(call)
    assert (call.status, call.duration) == ("completed", 42)
    entry = db.session.get(
        Message,
        db.session.execute(
            select(Message.id).where(Message.ticket_id == call.ticket_id)
        ).scalar_one(),
    )
    assert entry.body_text.startswith(f"Phone call to {CUSTOMER_NUMBER} with Pat")


def serve_recording(twilio_api) -> str:
    """A recording at an address like Twilio's (no extension: .mp3 asks for MP3)."""
    path = f"/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{uuid.uuid4().hex}"
    twilio_api.media[path] = ("audio/mpeg", AUDIO)
    return twilio_api.url + path


def recording_params(call: Call, url: str) -> dict:
    return {
        "AccountSid": ACCOUNT,
        "CallSid": call.provider_id,
        "RecordingSid": url.rsplit("/", 1)[-1] if "/Recordings/RE" in url else "RE" + "1" * 32,
        "RecordingUrl": url,
        "RecordingStatus": "completed",
        "RecordingDuration": "42",
        "RecordingChannels": "2",
        "RecordingSource": "DialVerb",
    }


def test_the_recording_of_an_answered_call_plays_in_its_ticket_and_only_there(
    client, web_app, office, twilio_api, make_agent
):
    call = answered_call(client, office)
    url = serve_recording(twilio_api)
    params = recording_params(call, url)
    assert post_signed(client, RECORDING, params).status_code == 200
    assert post_signed(client, RECORDING, params).status_code == 200  # Twilio's retry
    fetched = [r for r in twilio_api.requests if r.method == "GET"]
    assert [(r.path, r.auth) for r in fetched] == [
        (url[len(twilio_api.url) :] + ".mp3", (ACCOUNT, "twilio-test-auth-token"))
    ]
    db.session.rollback()
    [attachment] = db.session.execute(select(Attachment)).scalars().all()
    message = db.session.get(Message, attachment.message_id)
    assert message.meta["call"] == "recording" and not message.needs_review
    assert (attachment.content_type, attachment.size) == ("audio/mpeg", len(AUDIO))
    call = db.session.get(Call, call.id)
    assert call.ticket_id == message.ticket_id
    assert call_json(call)["recording_url"] is None  # no Twilio link for browsers

    pat = login(web_app.test_client(), office.pat.email)
    played = pat.get(f"/attachments/{attachment.id}")
    assert played.status_code == 200 and played.data == AUDIO
    stranger = web_app.test_client()
    make_agent("mia@example.com", own_accounts_only=True, teams=["Elsewhere"])
    login(stranger, "mia@example.com")
    assert stranger.get(f"/attachments/{attachment.id}").status_code == 404

    # A second recording (a resumed call) Twilio cannot serve yet: kept, fetched later.
    path = f"/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{uuid.uuid4().hex}"
    post_signed(client, RECORDING, recording_params(call, twilio_api.url + path))
    db.session.rollback()
    pending = db.session.execute(
        select(Attachment).where(Attachment.id != attachment.id)
    ).scalar_one()
    message = db.session.get(Message, pending.message_id)
    assert pending.sha256 is None and pending.source_url.endswith(path + ".mp3")
    assert message.needs_review and "recording not fetched" in message.review_reason
    assert message.ticket_id == call.ticket_id

    twilio_api.media[path] = ("audio/mpeg", AUDIO)  # Twilio has it now
    common.fetch_media(message.id)
    db.session.rollback()
    pending = db.session.get(Attachment, pending.id)
    assert pending.sha256 is not None and pending.size == len(AUDIO)


def test_calls_are_recorded_only_when_asked_for(app, tmp_path):
    """Recording a call needs the caller told (in Germany, their consent): off unless
    TWILIO_RECORD_CALLS is set."""
    from helpdesk.config import from_environment

    assert voice.dial_options()["record"] == "record-from-answer-dual"  # twilio_config: on
    app.config["TWILIO_RECORD_CALLS"] = False
    assert "record" not in voice.dial_options()
    os.environ.pop("TWILIO_RECORD_CALLS", None)
    assert from_environment(tmp_path)["TWILIO_RECORD_CALLS"] is False
