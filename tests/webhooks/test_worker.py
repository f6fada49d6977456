"""With Redis and the real RQ worker (``helpdesk worker``'s, run here in burst mode, in
this process: a worker process costs seconds to start): a delivery is queued on
``webhooks`` after the commit, and the worker sends it to a real receiver that answers
500 twice, then 200: three signed requests under one delivery id, its retries through
RQ."""

from __future__ import annotations

import pytest
from rq import Queue
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.webhooks.models import WebhookDelivery
from tests.webhooks.test_webhooks import SECRET, doc_verify
from workers import worker

pytestmark = pytest.mark.redis


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url, "WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_RETRY_DELAYS": (0, 0)}


def test_worker_retries_a_failing_receiver_under_one_delivery_id(
    app, api, redis_url, webhook_receiver
):
    verify = doc_verify()
    webhook_receiver.answers = [500, 500]
    webhook_receiver.check = lambda headers, body: verify(SECRET, headers, body)
    hook = api.post(
        "/api/v1/webhooks",
        json={
            "url": webhook_receiver.url + "/in",
            "events": ["customer.created"],
            "secret": SECRET,
        },
    ).get_json()
    created = api.post("/api/v1/customers", json={"name": "Ada", "emails": ["ada@example.com"]})
    assert created.status_code == 201
    queue = Queue("webhooks", connection=app.extensions["helpdesk_redis"][redis_url])
    assert queue.count == 1  # queued after the commit, not sent by the web process
    assert webhook_receiver.received == []

    worker.run(burst=True)  # until the queues are empty: the retries were queued again
    got = webhook_receiver.wait_for(3)
    assert len(got) == 3 and {r.path for r in got} == {"/in"}
    db.session.rollback()
    [row] = db.session.scalars(select(WebhookDelivery)).all()
    assert {r.headers["X-Helpdesk-Delivery"] for r in got} == {row.uid}
    assert all(verify(SECRET, r.headers, r.body) for r in got)
    assert [r.headers["X-Helpdesk-Event"] for r in got] == ["customer.created"] * 3
    assert (row.status, row.tries, row.webhook_id) == ("delivered", 3, hook["id"])
