"""The email channel in the production shape: Redis, RQ queues and a separate
`helpdesk worker` process that polls the mailbox and sends the replies."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from rq import Queue
from sqlalchemy import select

from helpdesk import jobs
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, Ticket
from tests.fixtures.agents import Api
from tests.fixtures.app import run_worker
from tests.fixtures.email import deliver, make_mail

pytestmark = [pytest.mark.slow, pytest.mark.redis]  # Dovecot, and a worker process on Redis


@pytest.fixture
def app_config(redis_url):
    """Every test here runs with REDIS_URL set."""
    return {"REDIS_URL": redis_url}


def _work(app, base_config, redis_url) -> None:
    """Run `helpdesk worker --burst` in a process of its own until the queues are empty."""
    done = run_worker(app, base_config, redis_url, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    db.session.rollback()  # see what the worker committed


def test_worker_polls_on_schedule_and_sends_replies(
    app, mailbox, imap, smtp_server, admin, make_token, base_config, redis_url
):
    deliver(imap, make_mail(subject="Printer on fire", message_id="<fire@mail.example.com>"))
    jobs.submit("helpdesk.channels.email.imap:poll_all", queue_name="mail")  # as the scheduler
    assert Queue("mail", connection=jobs.redis_connection()).count == 1
    _work(app, base_config, redis_url)
    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert ticket.subject == "Printer on fire" and ticket.contact == "ada@example.com"
    api = Api(app.test_client(), make_token(admin))
    reply = api.post(f"/api/v1/tickets/{ticket.id}/messages", json={"body": "Stay calm."})
    assert reply.status_code == 201 and reply.json["status"] == "queued"
    assert smtp_server.handler_obj.received == []  # nothing is sent by the web process
    _work(app, base_config, redis_url)
    message = db.session.get(Message, reply.json["id"])
    assert message.status == "sent"
    sent = message_from_bytes(smtp_server.handler_obj.received[0]["data"], policy=policy.default)
    assert sent["Message-ID"] == message.external_id
    assert sent["In-Reply-To"] == "<fire@mail.example.com>"
