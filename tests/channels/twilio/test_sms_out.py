"""Agents' SMS replies: through the real Twilio REST client to a local stand-in, with
delivery status callbacks, long texts, opt-outs and Twilio's errors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from helpdesk.customers import consents
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket
from tests.fixtures.app import run_worker
from tests.fixtures.corpora import corpus
from tests.fixtures.twilio import ACCOUNT, OUR_NUMBER, TOKEN, post_signed, sms_params, twilio_config

CUSTOMER = "+491711234567"


@pytest.fixture
def app_config(request, twilio_api):
    """Every app of these tests talks to the local Twilio stand-in (and to Redis, if asked)."""
    redis = (
        {"REDIS_URL": request.getfixturevalue("redis_url")}
        if "redis_url" in request.fixturenames
        else {}
    )
    return {**twilio_config(twilio_api), **redis}


@pytest.fixture
def ticket(client, app, make_line):
    """An SMS conversation a customer started on our number."""
    make_line()
    response = post_signed(client, "/webhooks/twilio/sms", sms_params("Paket?", CUSTOMER))
    assert response.status_code == 200
    return db.session.execute(select(Ticket)).unique().scalar_one()


def reply(api, ticket, body):
    response = api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": body})
    assert response.status_code == 201, response.json
    db.session.expire_all()
    return db.session.get(Message, response.json["id"])


def test_agent_reply_reaches_twilio_as_twilio_receives_it(api, ticket, twilio_api):
    message = reply(api, ticket, "Ihr Paket kommt morgen 📦")
    [sent] = twilio_api.messages()
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert sent.auth == (ACCOUNT, TOKEN)
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form["To"] == [CUSTOMER] and sent.form["From"] == [OUR_NUMBER]
    assert sent.form["Body"] == ["Ihr Paket kommt morgen 📦"]
    assert sent.form["StatusCallback"] == [
        f"http://localhost/webhooks/twilio/sms/status?message={message.id}"
    ]
    assert message.status == "sent" and message.external_id.startswith("SM")
    assert message.meta["twilio"]["segments"] == 1


def test_long_reply_goes_out_in_parts_twilio_accepts(api, ticket, twilio_api):
    text = "Sehr geehrte Kundin, " + "wir prüfen Ihre Bestellung sorgfältig. " * 100
    message = reply(api, ticket, text)
    bodies = [r.form["Body"][0] for r in twilio_api.messages()]
    assert len(bodies) == 3 and all(len(b) <= 1600 for b in bodies)
    assert "".join(bodies) == text
    assert message.status == "sent" and len(message.meta["twilio"]["sids"]) == 3
    assert message.meta["twilio"]["segments"] == 27  # GSM-7: 153 characters a segment


def status(client, message, sid, state, **extra):
    path = f"/webhooks/twilio/sms/status?message={message.id}"
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": state,
        "SmsStatus": state,
        "AccountSid": ACCOUNT,
        "From": OUR_NUMBER,
        "To": CUSTOMER,
        "ApiVersion": "2010-04-01",
        **extra,
    }
    response = post_signed(client, path, params)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    db.session.expire_all()
    return db.session.get(Message, message.id)


def test_status_callbacks_update_the_message_and_retries_change_nothing(client, api, ticket):
    cases = json.loads((corpus("twilio", "chatwoot") / "twilio_payloads.json").read_text())
    expected = {"delivered": "delivered", "read": "delivered", "queued": "sent"}
    for case in cases["message_status_callbacks"]:
        message = reply(api, ticket, f"about {case['MessageStatus']}")
        extra = {k: case[k] for k in ("ErrorCode", "ErrorMessage") if k in case}
        updated = status(client, message, message.external_id, case["MessageStatus"], **extra)
        if case["MessageStatus"] in expected:
            assert updated.status == expected[case["MessageStatus"]] and updated.error is None
        else:
            assert updated.status == case["MessageStatus"]  # undelivered / failed
            code = case["ErrorCode"]
            assert updated.error.startswith(f"Twilio error {code}: ")
            assert updated.error.endswith(case.get("ErrorMessage", "unknown error"))
    message = reply(api, ticket, "in order")
    assert status(client, message, message.external_id, "delivered").status == "delivered"
    again = status(client, message, message.external_id, "delivered")
    late = status(client, message, message.external_id, "sent")  # out of order: not a step back
    assert again.status == late.status == "delivered"


def test_status_of_a_long_reply_is_that_of_its_slowest_part(client, api, ticket):
    message = reply(api, ticket, "x " * 1700)
    first, second, third = message.meta["twilio"]["sids"]
    assert status(client, message, first, "delivered").status == "sent"
    assert status(client, message, second, "delivered").status == "sent"
    assert status(client, message, third, "delivered").status == "delivered"


def test_status_for_an_unknown_message_is_ignored(client, ticket):
    params = {"MessageSid": "SMunknown", "MessageStatus": "delivered", "AccountSid": ACCOUNT}
    assert post_signed(client, "/webhooks/twilio/sms/status", params).status_code == 200


def test_reply_to_a_customer_who_texted_stop_is_refused_with_a_clear_reason(
    client, api, ticket, twilio_api
):
    assert (
        post_signed(client, "/webhooks/twilio/sms", sms_params("STOP", CUSTOMER)).status_code == 200
    )
    before = api.get(f"/api/v1/tickets/{ticket.id}/messages").json["items"]
    refused = api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": "Still there?"})
    assert refused.status_code == 409
    error = refused.json["error"]["message"]
    assert "opted out of SMS" in error and "START" in error
    assert twilio_api.messages() == []
    assert api.get(f"/api/v1/tickets/{ticket.id}/messages").json["items"] == before
    note = api.post(
        f"/api/v1/tickets/{ticket.id}/messages",
        json={"body": "customer opted out", "internal": True},
    )
    assert note.status_code == 201  # internal notes are still fine


def test_twilio_opt_out_error_marks_the_customer(api, ticket, twilio_api):
    twilio_api.failures.append((400, 21610, "Attempt to send to unsubscribed recipient"))
    message = reply(api, ticket, "hello?")
    assert message.status == "failed"
    assert message.error == (
        "Twilio error 21610: the recipient has opted out of messages "
        "from this number (replied STOP)"
    )
    assert consents.sms_blocked(db.session.execute(select(Customer)).unique().scalar_one())


@pytest.mark.parametrize(
    "status_code, code, text, expect, status",
    [
        (
            400,
            21211,
            "The 'To' number is not a valid phone number.",
            "not a valid phone number",
            "failed",
        ),
        # Transient: still queued, tried again later (tests/channels/test_delivery.py).
        (503, 20503, "Service unavailable", "Service unavailable", "queued"),
    ],
)
def test_twilio_errors_are_shown_on_the_message(
    api, ticket, twilio_api, status_code, code, text, expect, status
):
    twilio_api.failures.append((status_code, code, text))
    message = reply(api, ticket, "hello?")
    assert message.status == status and f"Twilio error {code}" in message.error
    assert expect in message.error


def test_a_part_failing_stops_the_rest_and_nothing_is_sent_twice(api, ticket, twilio_api):
    twilio_api.failures.extend([(0, 0, ""), (500, 20500, "Internal Server Error")])
    message = reply(api, ticket, "y " * 1700)
    assert len(twilio_api.messages()) == 2  # the first part went, the second failed, no third
    assert message.status == "failed"
    assert message.error.startswith("only 1 of 3 parts sent: Twilio error 20500")


@pytest.mark.slow
@pytest.mark.redis
def test_rq_worker_process_sends_through_twilio(
    redis_url, app, ticket, api, twilio_api, base_config
):
    """The `helpdesk worker` process finds the sms adapter and sends through the stand-in."""
    queued = api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": "Moin!"})
    assert queued.json["status"] == "queued" and twilio_api.messages() == []
    done = run_worker(
        app,
        base_config,
        redis_url,
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_API_BASE_URL=twilio_api.url,
        PUBLIC_URL="https://help.example.com",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [sent] = twilio_api.messages()
    assert sent.form["Body"] == ["Moin!"] and sent.form["To"] == [CUSTOMER]
    assert sent.form["StatusCallback"] == [
        f"https://help.example.com/webhooks/twilio/sms/status?message={queued.json['id']}"
    ]
    db.session.rollback()  # end this session's snapshot to see the worker's commit
    assert db.session.get(Message, queued.json["id"]).status == "sent"
