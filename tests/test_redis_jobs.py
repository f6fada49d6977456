"""With REDIS_URL: jobs go through RQ after commit, and a worker process reaches agents."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rq import Queue

from helpdesk.extensions import db
from helpdesk.tickets.models import Message
from tests.conftest import serving
from tests.socket_clients import Listener

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app_config(redis_url):
    """Every test here runs with REDIS_URL set."""
    return {"REDIS_URL": redis_url}


@pytest.fixture
def redis_app(app):
    """The app of this module (REDIS_URL set)."""
    return app


def _ticket(api, make_customer):
    customer = make_customer("Ada", emails=["ada@example.com"])
    response = api.post(
        "/api/v1/tickets", json={"customer": customer.id, "subject": "Help", "body": "it broke"}
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_healthz_reports_redis(redis_app):
    assert redis_app.test_client().get("/healthz").json["redis"] == "ok"


def test_healthz_names_redis_when_it_is_down(app):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["redis"].startswith("error") and response.json["database"] == "ok"


def test_reply_is_queued_on_outbound_not_run_in_the_web_process(
    redis_app, redis_url, make_customer, admin, make_token
):
    from tests.conftest import Api

    api = Api(redis_app.test_client(), make_token(admin))
    ticket_id = _ticket(api, make_customer)
    reply = api.post(f"/api/v1/tickets/{ticket_id}/messages", json={"body": "on it"})
    assert reply.status_code == 201
    assert reply.json["status"] == "queued"
    from redis import Redis

    queue = Queue("outbound", connection=Redis.from_url(redis_url))
    assert queue.count == 1
    job = queue.jobs[0]
    assert job.func_name == "helpdesk.channels.delivery.deliver"
    assert job.args == (reply.json["id"],)


def test_worker_process_delivers_and_agents_hear_it_through_redis(
    redis_app, redis_url, make_customer, admin, make_token, base_config
):
    """A separate `helpdesk worker` process works the job; its emit reaches the web process."""
    from tests.conftest import Api

    token = make_token(admin)
    api = Api(redis_app.test_client(), token)
    ticket_id = _ticket(api, make_customer)
    with serving(redis_app) as url:
        listener = Listener(url, auth={"token": token})
        try:
            reply = api.post(f"/api/v1/tickets/{ticket_id}/messages", json={"body": "on it"})
            env = {
                **os.environ,
                "REDIS_URL": redis_url,
                "DATABASE_URL": base_config["SQLALCHEMY_DATABASE_URI"],
                "SECRET_KEY": "test-secret",
                "HELPDESK_SOCKETIO_CHANNEL": redis_app.config["SOCKETIO_CHANNEL"],
                "HELPDESK_ATTACHMENT_DIR": base_config["ATTACHMENT_DIR"],
            }
            done = subprocess.run(
                [sys.executable, "-m", "helpdesk", "worker", "--burst"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
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
