"""`helpdesk serve` under gunicorn, as real processes: two web servers on one database and
one Redis behave as one (an agent connected to one hears what is written through the
other), and SIGTERM loses no request in flight while telling Socket.IO clients to go.

The two servers live as long as this module; each test makes its own data. PostgreSQL
only, as in production."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests.fixtures.app import ROOT, SECRETS_KEY
from tests.fixtures.outage import RedisServer, free_port
from tests.fixtures.sockets import Listener

pytestmark = [pytest.mark.slow, pytest.mark.redis]
CHANNEL = f"helpdesk-prod-test-{os.getpid()}"


def _get(url: str, timeout: float = 5.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our server
        return int(response.status)


class Web:
    """One `helpdesk serve` (gunicorn, one worker process unless ``options`` say more) on a
    free port."""

    def __init__(self, base_config: dict, redis_url: str, folder, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / f"web-{self.port}.log", "w+")  # noqa: SIM115 - closed in stop
        env = {
            **os.environ,
            "DATABASE_URL": base_config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret",
            "HELPDESK_SECRETS_KEY": SECRETS_KEY,
            "HELPDESK_SOCKETIO_CHANNEL": CHANNEL,
            "HELPDESK_ATTACHMENT_DIR": base_config["ATTACHMENT_DIR"],
            "HELPDESK_INSTANCE": str(folder),
            "HELPDESK_PRESENCE_GRACE_SECONDS": "0",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "helpdesk",
                "serve",
                "--port",
                str(self.port),
                "--timeout",
                "2",
                *options,
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"helpdesk serve exited:\n{self.output()}")
            try:
                if _get(f"{self.url}/healthz", 2) == 200:
                    return
            except OSError:
                pass
            threading.Event().wait(0.1)
        pytest.fail(f"helpdesk serve did not answer within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def webs(base_config, _schema, tmp_path_factory):
    """Two web servers on the test database and a Redis server of their own. PostgreSQL
    only: the production shape (and nothing here depends on the database, so the SQLite
    run, the suite's longer half, is spared two server starts)."""
    if not base_config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("web processes in production: PostgreSQL only")
    folder = tmp_path_factory.mktemp("prod")
    redis = RedisServer(folder)
    redis.start()
    servers = [Web(base_config, redis.url, folder) for _ in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
        redis.stop()


@pytest.fixture
def app_config(webs) -> dict:
    """The test's app talks on the servers' Socket.IO channel."""
    return {"SOCKETIO_CHANNEL": CHANNEL}


def _wait_refused(port: int, timeout: float = 15.0) -> None:
    """Wait until connections to ``port`` are refused."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        threading.Event().wait(0.05)
    pytest.fail(f"port {port} still takes connections {timeout} s after SIGTERM")


def _post(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our server
        return int(response.status), json.loads(response.read())


def test_an_event_written_through_one_process_reaches_an_agent_on_the_other(
    webs, make_agent, make_token
):
    one, other = webs
    agent = make_agent("pat@example.com", role="admin")
    token = make_token(agent)
    listener = Listener(one.url, auth={"token": token})
    try:
        status, ticket = _post(
            f"{other.url}/api/v1/tickets",
            token,
            {"subject": "Across processes", "customer_email": "ann@example.com", "body": "Hi"},
        )
        assert status == 201
        created = listener.wait_for(
            "ticket.created", 10, lambda d: d["ticket"]["id"] == ticket["id"]
        )["ticket"]
        assert created["subject"] == "Across processes"
    finally:
        listener.close()


def test_a_client_slow_to_send_its_request_is_cut_off(webs):
    """A half-sent request holds its thread only for --timeout (2 s here), and meanwhile
    the process goes on answering."""
    server = webs[0]
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    try:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no end of headers
        started = time.monotonic()
        assert _get(f"{server.url}/healthz") == 200
        assert slow.recv(1024) == b""  # closed by the server, with no answer
        assert time.monotonic() - started < 12
    finally:
        slow.close()


def test_sigterm_finishes_the_request_in_flight_and_sends_socketio_clients_away(
    webs, make_agent, make_token
):
    from sqlalchemy import select

    from helpdesk.customers.models import Customer
    from helpdesk.extensions import db

    server = webs[1]
    token = make_token(make_agent("sam@example.com"))
    listener = Listener(server.url, auth={"token": token})
    gone = threading.Event()
    listener.client.on("disconnect", lambda *args: gone.set(), namespace="/agents")
    body = json.dumps({"name": "Grace In-Flight", "emails": ["grace@example.com"]}).encode()
    head = (
        f"POST /api/v1/customers HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    request = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    try:
        request.sendall(head + body[:10])  # the app is now reading the body
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        _wait_refused(server.port)  # the process is stopping: it takes no new connection
        request.sendall(body[10:])
        answer = b""
        while chunk := request.recv(65536):
            answer += chunk
        # The WebSocket was closed without waiting for the graceful timeout (30 s).
        assert gone.wait(15), f"the Socket.IO client was not told to go\n{server.output()}"
    finally:
        request.close()
        listener.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
    assert server.process.wait(20) == 0
    assert time.monotonic() - started < 20
    db.session.rollback()
    assert db.session.scalar(select(Customer.name).where(Customer.name == "Grace In-Flight"))


def _requests_counted(url: str, route: str) -> float:
    """The requests to ``route`` answered 200 that a scrape of ``url``/metrics counts."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    assert "process_cpu_seconds_total" not in text, "one process's own figures: not summed"
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("helpdesk_http_requests_total{")
        and f'route="{route}"' in line
        and 'status="200"' in line
    )


def test_several_web_processes_of_one_serve_count_as_one(base_config, _schema, own_redis, tmp_path):
    """`helpdesk serve --workers 2` sums its processes' metrics (prometheus_client's
    multiprocess mode, set up by the command itself): every scrape, whichever process
    answers it, counts every request."""
    if not base_config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("web processes in production: PostgreSQL only")
    server = Web(base_config, own_redis.url, tmp_path, "--workers", "2")
    try:
        server.wait_ready()
        for _ in range(30):  # each on a connection of its own: both processes take some
            assert _get(f"{server.url}/login") == 200
        deadline = time.monotonic() + 10
        while (counted := _requests_counted(server.url, "/login")) < 30:
            assert time.monotonic() < deadline, f"{counted} of 30 counted\n{server.output()}"
            threading.Event().wait(0.1)
        assert counted == 30
        assert _requests_counted(server.url, "/login") == 30
        assert f"summed in {tmp_path / 'metrics' / str(server.port)}" in server.output()
    finally:
        server.stop()
