"""No reply lost: a reply whose send job was lost (Redis down) or whose send failed for a
while (Twilio answering 5xx) goes out once, when the periodic ``requeue`` runs again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import select, update

from helpdesk.channels import delivery
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket
from tests.fixtures.app import run_worker
from tests.fixtures.twilio import ACCOUNT, TOKEN, post_signed, sms_params, twilio_config

CUSTOMER = "+491711234567"


@pytest.fixture
def app_config(request, twilio_api):
    """The Twilio stand-in; a throw-away Redis when the test asks for one; requeue at once."""
    redis = (
        {"REDIS_URL": request.getfixturevalue("own_redis").url}
        if "own_redis" in request.fixturenames
        else {}
    )
    return {**twilio_config(twilio_api), "DELIVERY_REQUEUE_AFTER": 0, **redis}


@pytest.fixture
def ticket(client, app, make_line):
    """An SMS conversation a customer started on our number."""
    make_line()
    response = post_signed(client, "/webhooks/twilio/sms", sms_params("Paket?", CUSTOMER))
    assert response.status_code == 200
    return db.session.execute(select(Ticket)).unique().scalar_one()


def reply(api, ticket, body) -> Message:
    response = api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": body})
    assert response.status_code == 201, response.json
    db.session.expire_all()
    message = db.session.get(Message, response.json["id"])
    assert message is not None
    return message


def fresh(message_id: int) -> Message:
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    assert message is not None
    return message


def make_due(message_id: int) -> None:
    """The backoff has passed (its clock, moved rather than waited for)."""
    db.session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


@pytest.mark.slow
@pytest.mark.redis
def test_reply_sent_while_redis_is_down_goes_out_once_when_it_is_back(
    app, ticket, api, twilio_api, own_redis, base_config
):
    own_redis.stop()
    message = reply(api, ticket, "Ihr Paket kommt morgen")
    assert message.status == "queued"  # stored; its job could not be enqueued
    with pytest.raises(Exception, match="(?i)connect"):
        delivery.requeue()  # Redis still down: nothing handed over, still due
    assert fresh(message.id).next_attempt_at <= utcnow()

    own_redis.start()  # an empty Redis: the lost job is not in it
    assert delivery.requeue() == 1
    assert delivery.requeue() == 0  # handed over: not again while its job waits
    done = run_worker(
        app,
        base_config,
        own_redis.url,
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_API_BASE_URL=twilio_api.url,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [sent] = twilio_api.messages()
    assert sent.form["Body"] == ["Ihr Paket kommt morgen"]
    message = fresh(message.id)
    assert message.status == "sent" and message.external_id.startswith("SM")
    make_due(message.id)
    assert delivery.requeue() == 0  # sent: never again
    assert Queue("outbound", connection=app.extensions["helpdesk_redis"][own_redis.url]).count == 0
    assert len(twilio_api.messages()) == 1


def test_in_process_delivery_retries_a_transient_twilio_error_with_backoff(
    app, ticket, api, twilio_api
):
    twilio_api.failures.append((503, 20503, "Service unavailable"))
    message = reply(api, ticket, "hello?")
    assert message.status == "queued"  # not failed for good
    assert "Twilio error 20503" in message.error and "trying again" in message.error
    assert message.send_attempts == 1
    assert message.next_attempt_at > utcnow() + timedelta(seconds=20)  # backed off
    assert delivery.requeue() == 0  # not due yet
    make_due(message.id)
    assert delivery.requeue() == 1
    message = fresh(message.id)
    assert message.status == "sent" and message.error is None
    assert [r.form["Body"] for r in twilio_api.messages()] == [["hello?"], ["hello?"]]
    make_due(message.id)
    assert delivery.requeue() == 0


def test_transient_errors_fail_the_reply_after_the_last_attempt(app, ticket, api, twilio_api):
    twilio_api.failures.extend([(503, 20503, "Service unavailable")] * delivery.MAX_ATTEMPTS)
    message = reply(api, ticket, "hello?")
    for _ in range(delivery.MAX_ATTEMPTS - 1):
        assert fresh(message.id).status == "queued"
        make_due(message.id)
        assert delivery.requeue() == 1
    message = fresh(message.id)
    assert message.status == "failed" and "Twilio error 20503" in message.error
    assert message.send_attempts == delivery.MAX_ATTEMPTS
    assert delivery.requeue() == 0
    assert len(twilio_api.messages()) == delivery.MAX_ATTEMPTS


def test_a_message_being_sent_is_not_sent_again_by_a_second_job(app, ticket, api, twilio_api):
    twilio_api.failures.append((503, 20503, "Service unavailable"))
    message = reply(api, ticket, "hello?")
    db.session.execute(
        update(Message).where(Message.id == message.id).values(sending_since=utcnow())
    )
    db.session.commit()
    delivery.deliver(message.id)  # another job holds the claim
    assert len(twilio_api.messages()) == 1
    assert fresh(message.id).status == "queued"
