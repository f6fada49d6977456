"""With REDIS_URL: jobs go through RQ after commit, and a worker process reaches agents."""

from __future__ import annotations

import pytest
from rq import Queue

from helpdesk.extensions import db
from helpdesk.tickets.models import Message
from tests.fixtures.agents import Api
from tests.fixtures.app import run_worker, serving
from tests.fixtures.sockets import Listener

pytestmark = pytest.mark.redis  # the real Redis


@pytest.fixture
def app_config(redis_url):
    """Every test here runs with REDIS_URL set."""
    return {"REDIS_URL": redis_url}


@pytest.fixture
def redis_app(app):
    """The app of this module (REDIS_URL set)."""
    return app


def _ticket(api, make_customer, make_ticket):
    customer = make_customer("Ada", emails=["ada@example.com"])
    return make_ticket(customer, body="it broke", by=api)


def test_healthz_reports_redis(redis_app):
    assert redis_app.test_client().get("/healthz").json["redis"] == "ok"


def test_healthz_names_redis_when_it_is_down(app):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["redis"].startswith("error") and response.json["database"] == "ok"


def test_reply_is_queued_on_outbound_not_run_in_the_web_process(
    redis_app, redis_url, make_customer, admin, make_token, make_ticket
):
    api = Api(redis_app.test_client(), make_token(admin))
    ticket_id = _ticket(api, make_customer, make_ticket)
    reply = api.post(f"/api/v1/tickets/{ticket_id}/messages", json={"body": "on it"})
    assert reply.status_code == 201
    assert reply.json["status"] == "queued"
    from redis import Redis

    queue = Queue("outbound", connection=Redis.from_url(redis_url))
    assert queue.count == 1
    job = queue.jobs[0]
    assert job.func_name == "helpdesk.channels.delivery.deliver"
    assert job.args == (reply.json["id"],)


@pytest.mark.slow
def test_worker_process_delivers_and_agents_hear_it_through_redis(
    redis_app, redis_url, make_customer, admin, make_token, base_config, make_ticket
):
    """A separate `helpdesk worker` process works the job; its emit reaches the web process."""
    token = make_token(admin)
    api = Api(redis_app.test_client(), token)
    ticket_id = _ticket(api, make_customer, make_ticket)
    with serving(redis_app) as url:
        listener = Listener(url, auth={"token": token})
        try:
            reply = api.post(f"/api/v1/tickets/{ticket_id}/messages", json={"body": "on it"})
            done = run_worker(redis_app, base_config, redis_url)
            assert done.returncode == 0, done.stderr[-2000:]
            updated = listener.wait_for("message.updated", timeout=10)
        finally:
            listener.close()
    assert updated["message"]["id"] == reply.json["id"]
    assert updated["message"]["status"] == "failed"
    db.session.rollback()  # end this session's read snapshot to see the worker's commit
    message = db.session.get(Message, reply.json["id"])
    # No transport exists for web tickets: the agent sees why, the reply is not lost.
    assert message.status == "failed" and "no outbound transport" in message.error
