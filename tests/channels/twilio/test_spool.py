"""The database down during a Twilio webhook: the signed request is spooled, the caller
still hears TwiML, and the spool is handled once the database is back, exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from helpdesk.channels.twilio import spool
from helpdesk.extensions import db
from helpdesk.tickets.models import Call, Message
from tests.fixtures.twilio import call_params, post_signed, sms_params, twilio_config

pytestmark = pytest.mark.slow


@pytest.fixture
def app_config(twilio_api, database_outage, tmp_path):
    """The Twilio account, the database behind the outage, a spool of the test's own."""
    return {**twilio_config(twilio_api), **database_outage.config, "SPOOL_DIR": str(tmp_path)}


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_sms_and_call_while_the_database_is_down_arrive_once_it_is_back(
    app, client, make_line, database_outage
):
    make_line("Phones")
    text = sms_params("Wo bleibt mein Paket?", "+4915112345678")
    ring = call_params("+4915199999999")
    voicemail = call_params(
        "+4915199999999",
        sid=ring["CallSid"],
        status="completed",
        RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        RecordingSid="RE1",
        RecordingDuration="7",
    )
    database_outage.cut()
    try:
        answered = post_signed(client, "/webhooks/twilio/sms", text)
        assert answered.status_code == 200
        assert answered.data.decode().endswith("<Response />")
        rang = post_signed(client, "/webhooks/twilio/voice", ring)
        assert rang.status_code == 200
        assert "<Record " in rang.data.decode()  # the caller can leave a message
        left = post_signed(client, "/webhooks/twilio/voice/status", voicemail)
        assert left.status_code == 200
        assert len(spool.pending()) == 3
        assert spool.drain() == 0  # still down: everything stays
        assert len(spool.pending()) == 3
    finally:
        database_outage.restore()

    assert count(Message) == 0  # nothing was written during the outage
    assert spool.drain() == 3
    assert spool.pending() == []
    assert spool.drain() == 0
    # Twilio never retries these; an idempotent repeat still stores nothing twice.
    assert post_signed(client, "/webhooks/twilio/sms", text).status_code == 200
    assert count(Message, Message.external_id == text["MessageSid"]) == 1
    sms = db.session.execute(select(Message).where(Message.channel == "sms")).scalar_one()
    assert sms.body_text == "Wo bleibt mein Paket?"
    call = db.session.execute(select(Call)).scalar_one()
    assert call.provider_id == ring["CallSid"]
    assert call.status == "completed"
    assert call.recording_url == voicemail["RecordingUrl"]


def test_a_request_is_spooled_before_the_database_and_removed_once_stored(
    app, client, make_line, tmp_path
):
    make_line("Phones")
    response = post_signed(client, "/webhooks/twilio/sms", sms_params("hello"))
    assert response.status_code == 200
    assert count(Message) == 1
    assert list(tmp_path.iterdir()) == []  # handled: nothing left to replay


def test_bad_input_is_refused_and_not_kept(app, client, tmp_path):
    params = call_params()
    del params["CallSid"]
    response = post_signed(client, "/webhooks/twilio/voice", params)
    assert response.status_code == 422
    assert response.json["error"]["code"]
    assert list(tmp_path.iterdir()) == []
