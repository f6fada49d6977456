"""The production shape, run here without Docker (scripts/prod-smoke, `make prod-smoke`).

Runs the services of docker-compose.yml with the commands and environment written there
(read from that file: one source of truth): the one-shot ``migrate``, two ``web``
processes, a ``worker`` and the ``scheduler``; on the PostgreSQL server at
PROD_SMOKE_POSTGRES (a database of its own, made afresh), a Redis server of its own, a
local stand-in for Twilio's REST API, and Debian's nginx in front (config, prefix and
port of its own in a temporary folder; the same directives docs/scaling.md shows). Then:

1. an agent's Socket.IO client, connected through nginx to one web process, gets the
   SMS whose signed Twilio webhook went through nginx to the other;
2. that agent's web process is killed (SIGKILL): the client reconnects through nginx to
   the other and keeps working (its reply goes out, the next SMS arrives);
3. the worker is killed (SIGKILL) in the middle of a burst of replies; a new worker
   (and the scheduler's requeue) delivers each exactly once, as the stand-in counts.

Exit status 0 when every step passed. Prints what it does; the processes' logs are in
the temporary folder (kept, with the database, when a step failed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from http.server import ThreadingHTTPServer
from pathlib import Path

import socketio
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.nginx import start_nginx  # noqa: E402
from tests.fixtures.outage import RedisServer, free_port  # noqa: E402
from tests.fixtures.sockets import Listener  # noqa: E402
from tests.fixtures.twilio import (  # noqa: E402
    ACCOUNT,
    OUR_NUMBER,
    TOKEN,
    TwilioStandIn,
    _handler,
    sign,
    sms_params,
)

POSTGRES = os.environ.get("PROD_SMOKE_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
DATABASE = os.environ.get("PROD_SMOKE_DB", "helpdesk_prod_smoke")
HELPDESK = str(Path(sys.executable).with_name("helpdesk"))
BURST = 30


def say(text: str) -> None:
    print(f"[prod-smoke {time.strftime('%H:%M:%S')}] {text}", flush=True)


def wait(what: str, check, timeout: float = 60.0, every: float = 0.1):
    """Call ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception:  # noqa: BLE001 - not yet
            result = None
        if result:
            return result
        time.sleep(every)
    raise SystemExit(f"FAILED: {what} (waited {timeout:.0f} s)")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise SystemExit(f"{name} must be set: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", one, value)


class Compose:
    """docker-compose.yml's services: their command and environment, as compose gives
    them to the container (a None value: taken from our environment)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
        self.env = env

    def command(self, service: str) -> list[str]:
        command = self.services[service]["command"]
        return [HELPDESK if command[0] == "helpdesk" else command[0], *command[1:]]

    def environment(self, service: str, **extra: str) -> dict[str, str]:
        env = dict(self.env)
        for name, value in (self.services[service].get("environment") or {}).items():
            if value is None:
                continue  # passed through from our environment when set there
            env[name] = interpolate(str(value), self.env)
        # The containers' addresses are ours here (postgres/redis hostnames in compose).
        env.update(DATABASE_URL=self.env["DATABASE_URL"], REDIS_URL=self.env["REDIS_URL"])
        env.update(extra)
        return env


class Processes:
    """The processes started here, each in a session of its own (killed as a group)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 - lives with the process
        process = subprocess.Popen(
            argv, cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.running[name] = process
        say(f"started {name} (pid {process.pid}): {' '.join(argv[-4:])}")
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.running.pop(name)
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait(30)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.kill(name, signal.SIGTERM if name.startswith("nginx") else signal.SIGKILL)


def http(method: str, url: str, token: str | None = None, body=None, headers=None):
    """One request; (status, JSON or text, the X-Upstream nginx sent it to)."""
    headers = dict(headers or {})
    data = None
    if isinstance(body, dict) and headers.get("Content-Type", "").startswith("application/x"):
        from urllib.parse import urlencode

        data = urlencode(body).encode()
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - ours
            raw, status, upstream = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, upstream = error.read(), error.code, error.headers
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = raw.decode(errors="replace")
    return status, payload, upstream.get("X-Upstream", "")


def fresh_database() -> str:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return f"{POSTGRES}/{DATABASE}"


def drop_database() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def seed(env: dict[str, str]) -> str:
    """An admin with an API token, and our Twilio number as a phone channel; the token."""
    os.environ.update(env)
    from helpdesk import create_app, unit_of_work
    from helpdesk.agents import services
    from helpdesk.agents.models import ApiToken
    from helpdesk.channels.models import Channel
    from helpdesk.extensions import db

    app = create_app()
    with app.app_context():
        with unit_of_work.write_phase():
            agent, _ = services.create_agent(
                "ops@example.com", "Ops", "admin", [], "smoke-password-1"
            )
            db.session.flush()
            row, token = ApiToken.issue(agent, "api")
            db.session.add(row)
            db.session.add(
                Channel(kind="phone", name="Hotline", address=OUR_NUMBER, team_id=None,
                        settings={}, secrets={}, state={})
            )  # fmt: skip
            db.session.commit()
        db.engine.dispose()
    return token


def healthy(url: str) -> bool:
    status, payload, _ = http("GET", f"{url}/healthz")
    return status == 200


def upstream_of(listener: Listener) -> str:
    """The web process (address) nginx put this Socket.IO connection through to."""
    headers = listener.client.eio.ws.getheaders() or {}
    return {k.lower(): v for k, v in headers.items()}.get("x-upstream", "")


def post_sms(front: str, body: str) -> tuple[int, str]:
    """A signed Twilio SMS webhook, through nginx; (status, the process it reached)."""
    url = f"{front}/webhooks/twilio/sms"
    params = sms_params(body=body)
    status, _, upstream = http(
        "POST", url, body=params,
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": sign(url, params)},
    )  # fmt: skip
    return status, upstream


def message_for(listener: Listener, text: str, timeout: float = 30.0) -> dict:
    return listener.wait_for(
        "message.created", timeout, lambda d: (d.get("message") or {}).get("body_text") == text
    )


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="prod-smoke-"))
    processes = Processes(folder)
    redis = RedisServer(folder)
    twilio = TwilioStandIn()
    twilio_server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(twilio))
    twilio.url = f"http://127.0.0.1:{twilio_server.server_port}"
    threading.Thread(target=twilio_server.serve_forever, daemon=True).start()
    ok = False
    listener = None
    try:
        redis.start()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("HELPDESK_", "FLASK_"))},
            "DATABASE_URL": fresh_database(),
            "REDIS_URL": redis.url,
            "SECRET_KEY": "prod-smoke-secret",
            "POSTGRES_PASSWORD": "unused-here",
            "HELPDESK_INSTANCE": str(folder / "instance"),
            "HELPDESK_TRUSTED_PROXIES": "1",  # nginx
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_NUMBER": OUR_NUMBER,
            "TWILIO_API_BASE_URL": twilio.url,
            # A send job killed mid-send is retried after this (5 minutes in production).
            "HELPDESK_DELIVERY_LEASE_SECONDS": "15",
            "HELPDESK_DELIVERY_REQUEUE_AFTER": "5",
        }
        compose = Compose(env)
        say(f"folder {folder}; database {DATABASE}; redis {redis.url}")

        # 1. The one-shot migrate service, once.
        migrate = processes.start(
            "migrate", compose.command("migrate"), compose.environment("migrate")
        )
        if migrate.wait(300) != 0:
            raise SystemExit("FAILED: migrate exited with an error")
        processes.running.pop("migrate")
        say("migrate: schema up to date")
        token = seed(env)

        # 2. Two web processes, a worker, the scheduler, as compose runs them; nginx in front.
        ports = [free_port(), free_port()]
        for n, port in enumerate(ports, 1):
            processes.start(
                f"web{n}", compose.command("web"),
                compose.environment("web", PORT=str(port), WEB_CONCURRENCY="1"),
            )  # fmt: skip
        processes.start("worker1", compose.command("worker"), compose.environment("worker"))
        processes.start("scheduler", compose.command("scheduler"), compose.environment("scheduler"))
        front_port = free_port()
        processes.running["nginx"] = start_nginx(folder, front_port, ports)
        say(f"started nginx on {front_port}")
        for port in ports:
            wait(
                f"web on {port} healthy", lambda port=port: healthy(f"http://127.0.0.1:{port}"), 180
            )
        front = f"http://127.0.0.1:{front_port}"
        wait("nginx answering", lambda: healthy(front), 30)
        say(f"web processes on {ports} healthy; nginx on {front_port}")

        # 3. The agent through nginx on one process, the webhook through the other.
        client = socketio.Client(
            reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2
        )
        listener = Listener(front, client=client, auth={"token": token})
        agent_on = upstream_of(listener)
        say(f"agent connected through nginx to {agent_on}")
        for attempt in range(6):
            status, reached = post_sms(front, f"Hello from SMS {attempt}")
            if status != 200:
                raise SystemExit(f"FAILED: the webhook answered {status}")
            if reached != agent_on:
                break
        else:
            raise SystemExit("FAILED: nginx never sent a webhook to the other process")
        event = message_for(listener, f"Hello from SMS {attempt}")
        ticket_id = event["ticket"]["id"]
        say(f"SMS webhook through {reached} reached the agent on {agent_on}: ticket {ticket_id}")

        # 4. Kill the agent's process: it reconnects through nginx and keeps working.
        victim = f"web{1 + [f'127.0.0.1:{p}' for p in ports].index(agent_on)}"
        reconnected = threading.Event()
        client.on("connect", lambda: reconnected.set(), namespace="/agents")
        processes.kill(victim)
        say(f"killed {victim} (SIGKILL)")
        wait("the agent reconnecting through nginx", reconnected.is_set, 60)
        say(f"agent reconnected, now on {upstream_of(listener)}")
        status, reply, _ = http(
            "POST", f"{front}/api/v1/tickets/{ticket_id}/messages", token, {"body": "On it!"}
        )
        if status != 201:
            raise SystemExit(f"FAILED: the reply after the kill answered {status}: {reply}")
        wait(
            "the reply sent as SMS",
            lambda: any(r.form.get("Body") == ["On it!"] for r in twilio.messages()),
            60,
        )
        status, _ = post_sms(front, "Still there?")
        message_for(listener, "Still there?")
        say("after the kill: the reply went out as SMS, the next SMS reached the agent")

        # 5. Kill the worker in the middle of a burst of replies; a new one delivers them.
        texts = [f"Burst reply {n}" for n in range(BURST)]

        def sent() -> int:
            return sum(r.form.get("Body", [""])[0].startswith("Burst") for r in twilio.messages())

        killed: list[int] = []

        def kill_worker_mid_burst() -> None:
            wait("the worker sending the first replies", lambda: sent() >= 3, 120, every=0.005)
            processes.kill("worker1")
            killed.append(sent())

        killer = threading.Thread(target=kill_worker_mid_burst, daemon=True)
        killer.start()
        for text in texts:
            status, reply, _ = http(
                "POST", f"{front}/api/v1/tickets/{ticket_id}/messages", token, {"body": text}
            )
            if status != 201:
                raise SystemExit(f"FAILED: reply {text!r} answered {status}: {reply}")
        killer.join(130)
        if not killed:
            raise SystemExit("FAILED: the worker sent no reply of the burst")
        say(f"killed the worker (SIGKILL) after {killed[0]} of {BURST} replies went out")
        processes.start("worker2", compose.command("worker"), compose.environment("worker"))
        wait(f"all {BURST} replies sent", lambda: sent() >= BURST, 240, every=0.5)
        time.sleep(3 * 5)  # a requeue cycle or two more: a duplicate would show now
        counts = Counter(r.form.get("Body", [""])[0] for r in twilio.messages())
        twice = {text: n for text, n in counts.items() if n > 1}
        missing = [text for text in texts if counts[text] == 0]
        if twice or missing:
            raise SystemExit(f"FAILED: sent twice {twice}, never sent {missing}")
        say(f"each of the {BURST} replies was sent exactly once")
        ok = True
        say("PASSED")
        return 0
    finally:
        if listener is not None:
            try:
                listener.close()
            except Exception:  # noqa: BLE001 - ending anyway
                pass
        processes.stop_all()
        redis.stop()
        twilio_server.shutdown()
        if ok:
            shutil.rmtree(folder, ignore_errors=True)
            drop_database()
        else:
            say(f"logs kept in {folder}")


if __name__ == "__main__":
    sys.exit(main())
