"""GET /metrics: requests by route and status, ingest per channel, mail poll lag, Socket.IO
connections; the off switch and the token; several processes summed (multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from helpdesk import unit_of_work
from helpdesk.channels.email import mailboxes
from helpdesk.channels.models import Channel
from helpdesk.config import from_environment
from helpdesk.extensions import db
from helpdesk.metrics import multiprocess
from tests.fixtures.app import ROOT
from tests.fixtures.sockets import Listener
from tests.fixtures.twilio import post_signed, sms_params, twilio_config
from tests.metrics.scrape import scrape, value

SMS = "/webhooks/twilio/sms"
REQUESTS = "helpdesk_http_requests_total"


@pytest.fixture
def app_config(twilio_api):
    """SMS arrive through the signed webhook."""
    return twilio_config(twilio_api)


def test_requests_ingest_and_poll_lag_move(app, client, admin, make_token):
    token = make_token(admin)
    with unit_of_work.write_phase():
        polled = (datetime.now(UTC) - timedelta(seconds=300)).isoformat(timespec="seconds")
        mailbox = Channel(
            kind="email",
            name="Support",
            address="support@example.com",
            state={"last_poll_at": polled, "last_success_at": polled, "last_error": None},
        )
        db.session.add(mailbox)
        db.session.commit()
    mailboxes.save_state(mailbox.id, "poll-1", release=True, error="OSError: refused")
    before = scrape(client)

    params = sms_params("Hello, is anyone there?")
    first = post_signed(client, SMS, params, environ_base={"HTTP_X_REQUEST_ID": "edge-1234"})
    again = post_signed(client, SMS, params)  # Twilio's retry of the same message
    missing = client.get("/api/v1/tickets/987654", headers={"Authorization": f"Bearer {token}"})
    client.get("/no/such/page/4711")
    assert (first.status_code, again.status_code, missing.status_code) == (200, 200, 404)
    assert first.headers["X-Request-ID"] == "edge-1234"
    assert len(again.headers["X-Request-ID"]) == 32  # none sent: one made

    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("helpdesk_messages_ingested_total", channel="sms") == 1  # the retry: not
    webhook = {"method": "POST", "route": SMS}
    assert delta(REQUESTS, status="200", **webhook) == 2
    assert delta("helpdesk_http_request_duration_seconds_count", **webhook) == 2
    assert delta("helpdesk_http_request_duration_seconds_sum", **webhook) > 0
    assert delta(REQUESTS, method="GET", route="/api/v1/tickets/<int:ticket_id>", status="404") == 1
    assert delta(REQUESTS, method="GET", route="<unmatched>", status="404") == 1
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert not any("987654" in route or "4711" in route for route in routes)  # rules only
    lag = value(after, "helpdesk_mail_poll_lag_seconds", mailbox="Support")
    assert 299 <= lag < 400  # the failed poll did not count
    mailboxes.save_state(mailbox.id, "poll-2", release=True)
    assert value(scrape(client), "helpdesk_mail_poll_lag_seconds", mailbox="Support") < 60
    assert not any(name == "helpdesk_job_queue_length" for name, _ in after)  # no Redis


def test_metrics_off_and_token(make_app, monkeypatch, tmp_path):
    off = make_app(METRICS=False).test_client()
    response = off.get("/metrics", headers={"X-Request-ID": "abc"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "abc"  # request ids stay on
    monkeypatch.setenv("HELPDESK_METRICS", "0")
    assert from_environment(tmp_path)["METRICS"] is False
    monkeypatch.setenv("HELPDESK_METRICS", "1")
    assert from_environment(tmp_path)["METRICS"] is True

    guarded = make_app(METRICS_TOKEN="scrape-secret").test_client()
    assert guarded.get("/metrics").status_code == 401
    wrong = guarded.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json["error"]["code"] == "unauthorized"
    scrape(guarded, Authorization="Bearer scrape-secret")


@pytest.mark.slow
def test_socketio_connections_are_counted(app, client, live_server, make_agent, make_token):
    agent = make_agent()
    namespace = {"namespace": "/agents"}
    before = value(scrape(client), "helpdesk_socketio_connections", **namespace)
    with pytest.raises(Exception, match="(?i)connect"):
        Listener(live_server, auth={"token": "not-a-token"})  # refused: not counted
    listener = Listener(live_server, auth={"token": make_token(agent)})
    assert value(scrape(client), "helpdesk_socketio_connections", **namespace) == before + 1
    listener.close()
    pause = threading.Event()
    for _ in range(250):  # the server runs the disconnect handler on its own thread
        if value(scrape(client), "helpdesk_socketio_connections", **namespace) == before:
            break
        pause.wait(0.02)
    assert value(scrape(client), "helpdesk_socketio_connections", **namespace) == before


# A process of its own that counts as the app's code does. It loads registry.py alone:
# importing the helpdesk package would cost seconds per process, and registry.py is the
# module that holds the metrics (it imports nothing of the helpdesk).
COUNT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("registry", sys.argv[1])
registry = importlib.util.module_from_spec(spec)
spec.loader.exec_module(registry)
registry.count_ingested("email")
registry.observe_request("GET", "/healthz", 200, 0.01)
registry.socket_opened("/chat")
print("counted", flush=True)
"""


@pytest.mark.slow
def test_several_processes_are_summed(client, tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    # Recorded, so that the teardown unsets what prepare sets below (a delenv of an
    # absent variable records nothing: the next test of this process read the folder).
    monkeypatch.setenv(multiprocess.VARIABLE, "")
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"")  # an earlier run's: prepare removes it
    multiprocess.prepare(folder)  # (sets the variable here too, for the scrape below)
    env = {**os.environ, multiprocess.VARIABLE: str(folder)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", COUNT, str(ROOT / "helpdesk" / "metrics" / "registry.py")],
            env=env,
            stdout=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0 and b"counted" in out
    assert not (folder / "counter_999999.db").exists()

    both = scrape(client)
    assert value(both, "helpdesk_messages_ingested_total", channel="email") == 2
    assert value(both, REQUESTS, method="GET", route="/healthz", status="200") == 2
    assert value(both, "helpdesk_socketio_connections", namespace="/chat") == 2

    multiprocess.on_worker_exit(workers[0].pid)  # gunicorn's child_exit
    one = scrape(client)
    assert value(one, "helpdesk_socketio_connections", namespace="/chat") == 1  # live only
    assert value(one, "helpdesk_messages_ingested_total", channel="email") == 2  # kept
