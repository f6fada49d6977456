"""Outbound webhooks: registration, deliveries written in the change's transaction, the
signed POST to a real local receiver, retries under one delivery id, SSRF refusals."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from sqlalchemy import select, text

from helpdesk import unit_of_work
from helpdesk.customers import services as customers
from helpdesk.extensions import db
from helpdesk.webhooks import delivery, transport
from helpdesk.webhooks.models import WebhookDelivery
from tests.fixtures.receivers import Receiver, serve_receiver

DOC = Path(__file__).parents[2] / "docs" / "webhooks.md"
SECRET = "a-test-secret-of-enough-length"


@pytest.fixture
def app_config():
    return {"WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_RETRY_DELAYS": (0, 0), "WEBHOOK_TIMEOUT": 2}


def doc_verify():
    """The Python ``verify`` of docs/webhooks.md, run as the doc shows it."""
    source = DOC.read_text()
    code = re.search(r"<!-- verify-python -->\n```python\n(.*?)```", source, re.S).group(1)
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)  # noqa: S102 - the documented snippet
    return scope["verify"]


def register(api, url, events=("customer.created", "customer.updated"), secret=SECRET):
    response = api.post(
        "/api/v1/webhooks", json={"url": url, "events": list(events), "secret": secret}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliveries():
    db.session.rollback()
    return db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def test_registration_is_for_admins_and_the_secret_is_shown_once_and_sealed(
    app, api, api_as, make_agent, make_token
):
    created = api.post(
        "/api/v1/webhooks", json={"url": "https://93.184.216.34/in", "events": ["ticket.created"]}
    )
    assert created.status_code == 201
    body = created.get_json()
    assert len(body["secret"]) >= 32 and body["events"] == ["ticket.created"]
    listed = api.get("/api/v1/webhooks").get_json()
    assert listed["items"] == [{k: v for k, v in body.items() if k != "secret"}]
    stored = db.session.execute(text("SELECT secrets FROM webhooks")).scalar_one()
    assert body["secret"] not in str(stored) and "fernet" in str(stored)

    agent = make_agent("agent@example.com")
    assert api_as(agent).get("/api/v1/webhooks").status_code == 403
    assert api_as(agent, "webhook-admin").get("/api/v1/webhooks").status_code == 403
    admin2 = make_agent("root@example.com", role="admin")
    assert api_as(admin2, "webhook-admin").get("/api/v1/webhooks").status_code == 200
    assert api_as(admin2, "cti").get("/api/v1/webhooks").status_code == 401

    bad = api.post("/api/v1/webhooks", json={"url": "https://93.184.216.34/x", "events": ["nope"]})
    assert bad.status_code == 422 and "events.0" in bad.get_json()["error"]["fields"]
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    private = api.post(
        "/api/v1/webhooks", json={"url": "http://10.0.0.8/", "events": ["ticket.created"]}
    )
    assert private.status_code == 422 and "url" in private.get_json()["error"]["fields"]
    assert api.delete(f"/api/v1/webhooks/{body['id']}").status_code == 204
    assert api.get("/api/v1/webhooks").get_json()["items"] == []


def test_deliveries_are_written_only_with_a_committed_change(app, api, webhook_receiver):
    register(api, webhook_receiver.url)
    register(api, webhook_receiver.url + "/other", events=["ticket.created"])
    with unit_of_work.writing():
        customers.create_customer({"name": "Gone", "emails": ["gone@example.com"]})
        db.session.rollback()
    assert deliveries() == []

    with unit_of_work.writing():
        customer = customers.create_customer({"name": "Ada", "emails": ["ada@example.com"]})
        unit_of_work.commit()
    rows = deliveries()
    assert [(r.event, r.webhook.url) for r in rows] == [("customer.created", webhook_receiver.url)]
    sent = json.loads(rows[0].body)
    assert sent["event"] == "customer.created" and sent["data"]["customer"]["id"] == customer.id
    assert webhook_receiver.received == []  # without Redis, the scheduler's requeue sends


def test_internal_notes_are_not_sent(app, api, admin, inbound, webhook_receiver):
    register(api, webhook_receiver.url, events=["message.created", "ticket.created"])
    ticket_id = inbound("email", "eve@example.com", "Hello", subject="Hi").ticket.id
    path = f"/api/v1/tickets/{ticket_id}/messages"
    assert api.post(path, json={"body": "secret note", "internal": True}).status_code == 201
    assert api.post(path, json={"body": "Our answer"}).status_code == 201
    sent = [json.loads(r.body) for r in deliveries()]
    assert [(d["event"], d["data"].get("message", {}).get("body_text")) for d in sent] == [
        ("ticket.created", None),
        ("message.created", "Hello"),
        ("message.created", "Our answer"),
    ]
    assert sent[0]["data"]["ticket"]["id"] == ticket_id


def test_signed_delivery_retried_under_one_id_until_answered(app, api, webhook_receiver):
    verify = doc_verify()
    webhook_receiver.answers = [500, 500]
    webhook_receiver.check = lambda headers, body: verify(SECRET, headers, body)
    register(api, webhook_receiver.url)
    with unit_of_work.writing():
        customers.create_customer({"name": "Bo", "emails": ["bo@example.com"]})
        unit_of_work.commit()
    (row,) = deliveries()
    delivery.deliver(row.uid)  # the job; then the scheduler's requeue sends the retries
    assert delivery.requeue() == 1 and delivery.requeue() == 1 and delivery.requeue() == 0
    got = webhook_receiver.wait_for(3)
    assert {r.headers["X-Helpdesk-Delivery"] for r in got} == {row.uid}
    assert {r.body for r in got} == {row.body.encode()}
    assert all(verify(SECRET, r.headers, r.body) for r in got)
    assert not verify("another-secret-entirely", got[0].headers, got[0].body)
    assert not verify(SECRET, got[0].headers, got[0].body + b" ")
    old = {
        **got[0].headers,
        "X-Helpdesk-Timestamp": str(int(got[0].headers["X-Helpdesk-Timestamp"]) - 301),
    }
    assert not verify(SECRET, old, got[0].body)
    (done,) = deliveries()
    assert (done.status, done.tries, done.last_status_code) == ("delivered", 3, 200)

    log = api.get(f"/api/v1/webhooks/{done.webhook_id}/deliveries").get_json()["items"]
    assert log[0]["delivery"] == row.uid and log[0]["tries"] == 3
    assert log[0]["last_response"] == "answer 200" and log[0]["response_time_ms"] >= 0
    again = api.post(f"/api/v1/webhooks/{done.webhook_id}/deliveries/{done.id}/redeliver")
    assert again.status_code == 202 and again.get_json()["status"] == "pending"
    assert delivery.requeue() == 1
    assert webhook_receiver.wait_for(4)[3].headers["X-Helpdesk-Delivery"] == row.uid


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost/",  # a name that resolves to 127.0.0.1
        "http://192.168.1.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "ftp://example.com/",
        "http://user:pw@example.com/",
    ],
)
def test_addresses_that_are_not_public_are_refused(url):
    with pytest.raises(transport.Refused):
        transport.check(url, allow_private=False)


def test_the_allow_switch_and_public_addresses():
    transport.check("http://127.0.0.1:9/", allow_private=True)
    transport.check("http://[::1]/", allow_private=True)
    transport.check("https://8.8.8.8/", allow_private=False)


def test_failures_redirects_refusals_timeouts(app, api, webhook_receiver):
    """Retries end in failed; a redirect is an answer (not followed); the address is checked
    again at each try; a receiver that never answers times out."""
    webhook_receiver.answers = [500, 503, 500]
    register(api, webhook_receiver.url)
    with unit_of_work.writing():
        customers.create_customer({"name": "Cy"})
        unit_of_work.commit()
    (row,) = deliveries()
    delivery.deliver(row.uid)
    delivery.requeue()
    delivery.requeue()
    (failed,) = deliveries()
    assert (failed.status, failed.tries, failed.last_status_code) == ("failed", 3, 500)
    assert delivery.requeue() == 0 and len(webhook_receiver.received) == 3
    api.delete(f"/api/v1/webhooks/{failed.webhook_id}")
    webhook_receiver.received.clear()

    elsewhere = Receiver()
    server = serve_receiver(elsewhere)
    silent = socket.socket()
    try:
        webhook_receiver.redirect_to = elsewhere.url + "/stolen"
        register(api, webhook_receiver.url)
        with unit_of_work.writing():
            customers.create_customer({"name": "Di"})
            unit_of_work.commit()
        (row,) = deliveries()
        delivery.deliver(row.uid)
        (redirected,) = deliveries()
        assert (redirected.status, redirected.last_status_code) == ("pending", 302)
        assert elsewhere.received == [] and len(webhook_receiver.received) == 1

        app.config["WEBHOOK_ALLOW_PRIVATE"] = False  # the address is checked again per try
        delivery.requeue()
        (refused,) = deliveries()
        assert refused.status == "failed" and "refused" in refused.last_error
        assert len(webhook_receiver.received) == 1

        app.config.update(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_TIMEOUT=0.3)
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection, never answers
        api.delete(f"/api/v1/webhooks/{refused.webhook_id}")
        register(api, f"http://127.0.0.1:{silent.getsockname()[1]}/")
        with unit_of_work.writing():
            customers.create_customer({"name": "Ed"})
            unit_of_work.commit()
        (row,) = deliveries()
        delivery.deliver(row.uid)
        (late,) = deliveries()
        assert late.status == "pending" and late.last_status_code is None
        assert "timed out" in late.last_error and late.last_duration_ms < 2000
    finally:
        silent.close()
        server.shutdown()
        server.server_close()
