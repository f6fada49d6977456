"""Two real web processes (``helpdesk serve`` on two ports, PostgreSQL and Redis) behave
as one: presence and "viewing" cross between them, an agent connected to both stays
online when one of their connections closes, an admin's change through one closes the
agent's connection to the other, a SIGKILLed process's agent goes offline within the
expiry, and the login attempts count against one budget."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
import requests

from helpdesk.agents.models import Agent
from helpdesk.extensions import db
from tests.fixtures.agents import _FORM_TOKEN
from tests.fixtures.app import ROOT, SECRETS_KEY
from tests.fixtures.sockets import Listener

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _serve(app, redis_url: str) -> tuple[subprocess.Popen, str]:
    """Start ``helpdesk serve`` on this test's database, Redis and Socket.IO channel."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "helpdesk", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={
            **os.environ,
            "REDIS_URL": redis_url,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "test-secret",
            "HELPDESK_SECRETS_KEY": SECRETS_KEY,
            "HELPDESK_SOCKETIO_CHANNEL": app.config["SOCKETIO_CHANNEL"],
            "HELPDESK_ATTACHMENT_DIR": app.config["ATTACHMENT_DIR"],
            "HELPDESK_PRESENCE_TTL_SECONDS": "3",
            "HELPDESK_PRESENCE_GRACE_SECONDS": "0.2",
            "HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE": "4",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_until_up(process: subprocess.Popen, url: str, timeout: float = 60) -> None:
    pause = threading.Event()
    for _ in range(int(timeout / 0.1)):
        if process.poll() is not None:
            pytest.fail(f"helpdesk serve exited: {process.stderr.read()[-3000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        pause.wait(0.1)
    pytest.fail(f"{url} did not come up")


@pytest.fixture
def two_servers(app, redis_url):
    """Web processes A and B: (process, base URL) each."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("two web processes on one database: PostgreSQL only")
    started = [_serve(app, redis_url), _serve(app, redis_url)]
    try:
        for process, url in started:
            _wait_until_up(process, url)
        yield started
    finally:
        for process, _url in started:
            process.kill()
            process.communicate(timeout=10)


def _login_status(url: str, email: str) -> int:
    """One login attempt with a wrong password through the form; its status code."""
    with requests.Session() as browser:  # closed: its kept-alive socket with it
        token = _FORM_TOKEN.search(browser.get(f"{url}/login", timeout=10).text).group(1)
        data = {"email": email, "password": "wrong", "csrf_token": token}
        return browser.post(f"{url}/login", data=data, timeout=10).status_code


def test_two_web_processes_share_presence_viewers_and_the_login_budget(
    app, two_servers, make_agent, make_token, inbound
):
    (server_a, a), (_server_b, b) = two_servers
    boss = make_agent("boss@example.com", role="admin")
    pat = make_agent("pat@example.com", teams=["Support"])
    kim = make_agent("kim@example.com", teams=["Support"])
    ticket = inbound("sms", "+4915112345678", "Hallo").ticket  # no team: everyone may view
    boss_token, pat_token, kim_token = make_token(boss), make_token(pat), make_token(kim)
    headers = {"Authorization": f"Bearer {boss_token}"}

    def presence_in(url: str) -> str:
        agents = requests.get(f"{url}/api/v1/agents", headers=headers, timeout=10).json()
        return next(agent["presence"] for agent in agents["items"] if agent["id"] == pat.id)

    watcher = Listener(b, auth={"token": boss_token})
    clients = [watcher]
    try:
        # Pat connects to A: the watcher on B hears it, and B's API says so.
        pat_a = Listener(a, auth={"token": pat_token})
        clients.append(pat_a)
        watcher.presence_before(pat.id, "online")
        assert presence_in(b) == "online"

        # Who has the ticket open crosses both ways.
        assert pat_a.call("viewing", {"ticket": ticket.id, "typing": True}) == {"ok": True}
        assert watcher.call("viewing", {"ticket": ticket.id}) == {"ok": True}
        both = {("Boss", False), ("Pat", True)}
        for listener in (watcher, pat_a):
            seen = listener.wait_for("viewers", where=lambda d: len(d["agents"]) == 2)
            assert {(v["name"], v["typing"]) for v in seen["agents"]} == both

        # Pat's connection to B closing leaves Pat online: A still holds one. (The
        # sentinel: Kim's connection to B closes after Pat's; Kim's offline, after the
        # same grace, comes after what Pat's release would have told.)
        pat_b = Listener(b, auth={"token": pat_token})
        kim_b = Listener(b, auth={"token": kim_token})
        pat_b.close()
        kim_b.close()
        earlier = watcher.presence_before(kim.id, "offline")
        assert [p["status"] for p in earlier if p["agent"]["id"] == pat.id] == ["online"]

        # Login attempts to A and B count against one budget of 4 a minute.
        statuses = [_login_status(url, "pat@example.com") for url in (a, b, a, b, a)]
        assert statuses == [200, 200, 200, 200, 429]

        # An admin's change through B closes Kim's connection to A (her rooms no longer
        # fit what she may see).
        kim_a = Listener(a, auth={"token": kim_token})
        clients.append(kim_a)
        changed = requests.patch(
            f"{b}/api/v1/agents/{kim.id}",
            json={"own_accounts_only": True},
            headers=headers,
            timeout=10,
        )
        assert changed.status_code == 200
        pause = threading.Event()
        for _ in range(250):
            if not kim_a.client.connected:
                break
            pause.wait(0.02)
        assert not kim_a.client.connected

        # A dies without a word: within the expiry B marks Pat offline and tells the
        # ticket's room that only the boss is left.
        server_a.send_signal(signal.SIGKILL)
        server_a.wait(timeout=10)
        watcher.presence_before(pat.id, "offline", timeout=15)
        alone = watcher.wait_for("viewers", where=lambda d: len(d["agents"]) == 1)
        assert alone["agents"][0]["name"] == "Boss"
        assert presence_in(b) == "offline"
        db.session.rollback()
        assert db.session.get(Agent, pat.id).presence == "offline"
    finally:
        for listener in clients:
            listener.close()
