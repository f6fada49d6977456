"""Agent UI page times and realtime fan-out with a large inbox and a busy customer.

    .venv/bin/python bench/inbox.py [--database sqlite|postgres|both] [--tickets N]
                                    [--interactions N] [--agents N] [--messages N]
                                    [--requests N] [--probes N] [--keep]
    .venv/bin/python bench/inbox.py --database sqlite --tickets 2000 --interactions 200 \
                                    --agents 20          # a quick check

Loads (bench/inbox_data.py) N tickets over tickets/5 bulk customers, a third of
them open, routed to four teams, one to four messages each, and one busy
customer with ``--interactions`` interactions (tickets and their messages,
calls, orders, notes; email, SMS, voice, chat), among them an open email
conversation of ``--messages`` messages. Agents and API tokens are made through
the app's services.

Pages: ``GET /inbox?view=all|mine`` as an admin and as an agent of one team,
the busy customer's conversation ``GET /tickets/<id>`` and the customer panel
``GET /customers/<id>/panel`` (``/customers/<id>`` while the panel does not
exist yet). The conversation page is the thread, its controls and the ticket's
trail; the panel beside it is the page's second request (ticket.js fetches it),
so the table also shows the sum of the two, per round: what an agent waits for
before the whole view is there. Each is timed in this process around the Flask
test client call: the whole
server-side request (routing, login, queries, template), no network. Each
request runs in a fresh app context, so nothing is cached between requests.
Before timing, this process settles its heap as ``helpdesk serve`` does after
start-up (``serving.settle_heap``: what exists is frozen out of the garbage
collector's full collections, which otherwise stall a request now and then).

Fan-out: ``helpdesk serve`` runs as a subprocess (DATABASE_URL, REDIS_URL,
HELPDESK_SOCKETIO_CHANNEL); ``--agents`` python-socketio clients connect to
``/agents`` over WebSocket with ``auth={"token": ...}``. This process calls
``helpdesk.tickets.ingest.ingest`` with REDIS_URL set, so the ``message.created``
emit crosses to the server through Flask-SocketIO's Redis message queue. Per
message: the time from the ingest call until the last of the clients got the
event (the clients share one asyncio loop in this process). Probes alternate an
SMS from a new number and an email with a new subject from a known customer:
both open a ticket of no team, which every agent may see.

Targets: pages p99 < 100 ms; fan-out to 200 agents p99 < 250 ms. The exit
status is 0 whether or not they are met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import inbox_data  # noqa: E402
from bench.common import bench_app, database_url, drop_database, email_of, free_port, summary  # noqa: E402
from bench.common import serve as common_serve  # noqa: E402
from helpdesk.web.serving import settle_heap  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9")
PG_NAME = "hd_bench_inbox"
TARGET_PAGE_MS, TARGET_FANOUT_MS = 100.0, 250.0


# --- database and server -------------------------------------------------------


def fresh_database(kind: str) -> str:
    """A new empty database: bench/results/hd_bench_inbox.db or PostgreSQL hd_bench_inbox."""
    return database_url("postgresql" if kind == "postgres" else "sqlite", PG_NAME)


def flush_redis() -> None:
    """Empty the benchmark's Redis database (only that one)."""
    from redis import Redis

    conn = Redis.from_url(REDIS_URL)
    conn.flushdb()
    conn.close()


def serve(url: str, port: int, channel: str, log: Path) -> subprocess.Popen:
    """Start `helpdesk serve` on ``url`` with the Redis message queue; wait until it answers."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench",
        "HELPDESK_SOCKETIO_CHANNEL": channel,
        "HELPDESK_ATTACHMENT_DIR": f"/tmp/bench-attachments-{os.getpid()}",
    }
    env.pop("PUBLIC_URL", None)
    return common_serve(env, port, log)


# --- pages -----------------------------------------------------------------------


def logged_in(app, email: str):
    """A test client logged in as ``email`` through the real login form."""
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post(
        "/login", data={"email": email, "password": inbox_data.PASSWORD, "csrf_token": csrf}
    )
    if response.status_code != 302:
        raise SystemExit(f"login as {email} failed: {response.status_code}")
    return client


def measure_pages(app, facts, rounds: int) -> tuple[list[dict], str]:
    """Time every page ``rounds`` times, interleaved; the rows and the panel URL measured.

    Call it with no app context pushed, so each request pushes (and tears down) its own.
    """
    admin = logged_in(app, inbox_data.ADMIN_EMAIL)
    agent = logged_in(app, inbox_data.AGENT_EMAIL)
    customer = facts.busy_customer
    panel = f"/customers/{customer}/panel"
    if admin.get(panel).status_code == 404:
        panel = f"/customers/{customer}"
    conversation = f"/tickets/{facts.busy_ticket}"
    targets = [
        {"label": "inbox ?view=all, admin", "who": admin, "url": "/inbox?view=all"},
        {"label": "inbox ?view=mine, admin", "who": admin, "url": "/inbox?view=mine"},
        {"label": "inbox ?view=all, team agent", "who": agent, "url": "/inbox?view=all"},
        {"label": "inbox ?view=mine, team agent", "who": agent, "url": "/inbox?view=mine"},
        {
            "label": f"conversation ({facts.busy_messages} msgs), admin",
            "who": admin,
            "url": conversation,
        },
        {
            "label": f"conversation ({facts.busy_messages} msgs), agent",
            "who": agent,
            "url": conversation,
        },
        {"label": "customer panel, admin", "who": admin, "url": panel},
        {"label": "customer panel, team agent", "who": agent, "url": panel},
    ]
    for target in targets:
        target["samples"], target["error"] = [], None
        for _ in range(5):  # warm-up: templates compiled, connections open
            response = target["who"].get(target["url"])
            if response.status_code != 200:  # reported in the table, not timed
                target["error"] = f"HTTP {response.status_code}"
                print(
                    f"  {target['label']}: GET {target['url']} answered {response.status_code}",
                    file=sys.stderr,
                    flush=True,
                )
                break
        target["bytes"] = len(response.get_data())
    timed = [t for t in targets if not t["error"]]
    for _ in range(rounds):
        for target in timed:
            started = time.perf_counter()
            response = target["who"].get(target["url"])
            target["samples"].append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{target['url']} answered {response.status_code}")
    rows = [
        {
            "label": t["label"],
            "url": t["url"],
            "bytes": t["bytes"],
            "error": t["error"],
            "ms": summary(t["samples"]) if t["samples"] else None,
        }
        for t in targets
    ]
    # What an agent waits for in all: the conversation and then the panel it asks for.
    for who, conv, side in (("admin", targets[4], targets[6]), ("agent", targets[5], targets[7])):
        if conv["samples"] and side["samples"]:
            rows.append(
                {
                    "label": f"  conversation + its panel, {who} (sum)",
                    "info": True,
                    "url": None,
                    "bytes": 0,
                    "error": None,
                    "ms": summary([a + b for a, b in zip(conv["samples"], side["samples"])]),
                }
            )
    return rows, panel


# --- fan-out -------------------------------------------------------------------------


class Fleet:
    """``len(tokens)`` python-socketio clients on /agents, on one asyncio loop in a thread,
    noting when each ``message.created`` arrives (keyed by the message text)."""

    def __init__(self, base: str, tokens: list[str], batch: int = 20):
        self.base, self.tokens, self.batch = base, tokens, batch
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.clients = []
        self.arrivals: dict[str, list[float]] = {}
        self.complete: dict[str, threading.Event] = {}

    def _call(self, coroutine, timeout: float):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def expect(self, marker: str) -> threading.Event:
        """Start waiting for the message whose text is ``marker``."""
        self.arrivals[marker] = []
        self.complete[marker] = threading.Event()
        return self.complete[marker]

    def _arrived(self, data) -> None:
        now = time.perf_counter()
        marker = (data.get("message") or {}).get("body_text")
        seen = self.arrivals.get(marker)
        if seen is not None:
            seen.append(now)
            if len(seen) == len(self.clients):
                self.complete[marker].set()

    async def _one(self, token: str):
        import socketio

        client = socketio.AsyncClient(reconnection=False)
        client.on("message.created", self._arrived, namespace="/agents")
        await client.connect(
            self.base,
            namespaces=["/agents"],
            transports=["websocket"],
            auth={"token": token},
            wait_timeout=30,
        )
        return client

    async def _connect(self) -> list[str]:
        refused = []
        for first in range(0, len(self.tokens), self.batch):
            batch = self.tokens[first : first + self.batch]
            done = await asyncio.gather(*[self._one(t) for t in batch], return_exceptions=True)
            for token, item in zip(batch, done):
                if isinstance(item, BaseException):
                    refused.append(token)
                else:
                    self.clients.append(item)
        errors = []
        for token in refused:  # once more, one at a time
            try:
                self.clients.append(await self._one(token))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
        self.retried = len(refused)
        return errors

    def connect(self) -> float:
        """Connect every client in batches; return the seconds it took."""
        started = time.perf_counter()
        errors = self._call(self._connect(), timeout=60 + len(self.tokens))
        if errors:
            raise SystemExit(f"{len(errors)} clients could not connect, e.g. {errors[0]}")
        return time.perf_counter() - started

    async def _close(self) -> None:
        await asyncio.gather(*[c.disconnect() for c in self.clients], return_exceptions=True)

    def close(self) -> None:
        """Disconnect everyone and stop the loop."""
        try:
            self._call(self._close(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)


def probe(i: int, customers: int, rng: random.Random):
    """Probe ``i``: an SMS from a new number or an email with a new subject from a known
    customer; either way a new ticket of no team. (marker text, InboundMessage)"""
    from helpdesk.channels.inbound import InboundMessage

    marker = f"Fan-out probe {i} {uuid.uuid4().hex[:12]}: is my parcel on its way?"
    if i % 2:
        n = rng.randint(2, customers)
        return marker, InboundMessage(
            channel="email",
            sender_kind="email",
            sender=email_of(n),
            sender_name=f"Customer {n}",
            subject=f"Question {uuid.uuid4().hex[:8]}",
            recipient="support@help.example",
            text=marker,
            external_id=f"<{uuid.uuid4().hex}@mail.example>",
        )
    return marker, InboundMessage(
        channel="sms",
        sender_kind="phone",
        sender=f"+49160{rng.randint(10**7, 10**8 - 1)}",
        text=marker,
        external_id=f"SM{uuid.uuid4().hex}",
    )


def measure_fanout(app, url: str, kind: str, facts, probes: int) -> dict:
    """Serve, connect the fleet, ingest ``probes`` messages one at a time; the figures."""
    from helpdesk.tickets.ingest import ingest

    channel = app.config["SOCKETIO_CHANNEL"]  # this process publishes on the server's channel
    port, log = free_port(), Path(f"/tmp/hd_bench_inbox_{kind}.log")
    server = serve(url, port, channel, log)
    fleet = Fleet(f"http://127.0.0.1:{port}", facts.tokens)
    rng = random.Random(5)
    figures = {"log": str(log)}
    try:
        # A token used in the last five minutes is not written to on connect: the agents have
        # been working. (Never used, 200 concurrent connects each UPDATE api_tokens, which on
        # SQLite fails some with "database is locked"; the retries are reported.)
        from sqlalchemy import text

        from helpdesk import unit_of_work
        from helpdesk.db import utcnow
        from helpdesk.extensions import db

        with app.app_context(), unit_of_work.writing():
            db.session.execute(text("UPDATE api_tokens SET last_used_at = :now"), {"now": utcnow()})
            db.session.commit()
        figures["connect_s"] = fleet.connect()
        figures["retried"] = fleet.retried
        time.sleep(1)  # let the server settle after the connection burst
        last, to_ingest, missing, partial = [], [], 0, []
        for i in range(-5, probes):  # five warm-up probes are not counted
            marker, message = probe(i, facts.customers, rng)
            complete = fleet.expect(marker)
            started = time.perf_counter()
            with app.app_context():  # a session of its own, like a worker's job
                ingest(message)
            ingested = time.perf_counter() - started
            got_all = complete.wait(10)
            arrivals = fleet.arrivals.pop(marker)
            fleet.complete.pop(marker)
            if i < 0:
                continue
            to_ingest.append(ingested)
            if got_all:
                last.append(max(arrivals) - started)
            else:
                missing += 1
                partial.append(len(arrivals))
            time.sleep(0.05 + rng.random() * 0.05)
        figures.update(
            clients=len(fleet.clients),
            probes=probes,
            missing=missing,
            partial=partial,
            fanout=summary(last) if last else None,
            ingest=summary(to_ingest),
        )
    finally:
        fleet.close()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    return figures


# --- a run and the report -------------------------------------------------------------


def run(kind: str, args) -> dict:
    """Load, time the pages, time the fan-out on one database."""
    url = fresh_database(kind)
    flush_redis()
    result = {"db": kind}
    print(
        f"{kind}: loading {args.tickets:,} tickets, a customer with {args.interactions:,} "
        f"interactions, {args.agents} agents ...",
        file=sys.stderr,
        flush=True,
    )
    try:
        with bench_app(
            url,
            REDIS_URL=REDIS_URL,
            SECRET_KEY="bench",
            SOCKETIO_CHANNEL=f"hd-bench-inbox-{os.getpid()}-{kind}",
        ) as app:
            facts = inbox_data.load(args.tickets, args.interactions, args.agents, args.messages)
            result["facts"] = facts
            print(
                f"{kind}: loaded in {facts.seconds:.0f} s; timing pages ({args.requests} "
                f"rounds) ...",
                file=sys.stderr,
                flush=True,
            )
            settle_heap()  # as `helpdesk serve` does before it serves
            # No app context: each request pushes and tears down its own, as in production.
            result["pages"], result["panel"] = contextvars.Context().run(
                measure_pages, app, facts, args.requests
            )
            print(
                f"{kind}: fan-out to {args.agents} clients, {args.probes} messages ...",
                file=sys.stderr,
                flush=True,
            )
            result.update(measure_fanout(app, url, kind, facts, args.probes))
    finally:
        flush_redis()
        if not args.keep:
            drop_database(url)
    return result


def report(results: list[dict], args) -> None:
    """One column per database, the target and whether it was met."""
    first = results[0]["facts"]
    print(
        f"\nbench/inbox.py: {first.tickets:,} tickets ({first.open_tickets:,} open) with "
        f"{first.messages:,} messages over {first.customers:,} customers; busy customer "
        f"{first.busy_customer}: "
        + ", ".join(f"{v:,} {k}" for k, v in first.interactions.items())
        + f" ({sum(first.interactions.values()):,} interactions); "
        f"{args.agents} agents in {len(inbox_data.TEAMS)} teams; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"pages: {args.requests} requests each after 5 warm-up, timed around the Flask test "
        f"client call in this process (server time, no network); panel URL measured: "
        f"{results[0]['panel']}"
    )
    print(
        f"fan-out: `helpdesk serve` subprocess, {args.agents} python-socketio clients "
        f"(WebSocket, /agents, token auth), ingest() here with REDIS_URL (Redis message "
        f"queue); time from the ingest call to the event at the last client, "
        f"{args.probes} messages"
    )
    width = 18
    print(
        f"{'ms, median / p99':44}" + "".join(f"{r['db']:>{width}}" for r in results) + "   target"
    )

    def verdict(ok) -> str:
        missed = [r["db"] for r in results if not ok(r)]
        return "met" if not missed else "MISSED on " + ", ".join(missed)

    def page_cell(page: dict) -> str:
        return page["error"] or "%.1f / %.1f" % page["ms"]

    for index, page in enumerate(results[0]["pages"]):
        cells = "".join(f"{page_cell(r['pages'][index]):>{width}}" for r in results)
        if page.get("info"):  # two requests: no page target applies
            print(f"{page['label']:44}{cells}")
            continue
        print(
            f"{page['label']:44}{cells}   p99 < {TARGET_PAGE_MS:g} ms: "
            + verdict(
                lambda r: (
                    r["pages"][index]["ms"] is not None
                    and r["pages"][index]["ms"][1] < TARGET_PAGE_MS
                )
            )
        )

    def fanout_cell(r) -> str:
        return "%.1f / %.1f" % r["fanout"] if r.get("fanout") else "none"

    print(
        f"{'fan-out to every client':44}"
        + "".join(f"{fanout_cell(r):>{width}}" for r in results)
        + f"   p99 < {TARGET_FANOUT_MS:g} ms to {args.agents} agents: "
        + verdict(
            lambda r: r.get("fanout") and r["fanout"][1] < TARGET_FANOUT_MS and not r["missing"]
        )
    )
    print(
        f"{'  the ingest() call alone':44}"
        + "".join(f"{'%.1f / %.1f' % r['ingest']:>{width}}" for r in results)
    )
    print(
        f"{'  messages not at every client within 10 s':44}"
        + "".join(f"{r['missing']:>{width}}" for r in results)
    )
    print(
        f"{'  clients connected, s to connect them':44}"
        + "".join(f"{'%d, %.1f s' % (r['clients'], r['connect_s']):>{width}}" for r in results)
    )
    print(
        f"{'  connects refused once, then retried':44}"
        + "".join(f"{r['retried']:>{width}}" for r in results)
    )

    def sizes(r) -> str:
        return "%.0f / %.0f / %.0f" % tuple(r["pages"][i]["bytes"] / 1024 for i in (0, 4, 6))

    print(
        f"{'page sizes, KB (inbox all admin / conv / panel)':44}"
        + "".join(f"{sizes(r):>{width}}" for r in results)
    )
    print(f"{'load, s':44}" + "".join(f"{r['facts'].seconds:>{width}.0f}" for r in results))


def main() -> None:
    """Parse the arguments, run each database, print the table; exit 0 either way."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database", "--db", choices=["sqlite", "postgres", "both"], default="both"
    )
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument(
        "--interactions", type=int, default=2_000, help="interactions of the busy customer"
    )
    parser.add_argument(
        "--agents", type=int, default=200, help="agents with a Socket.IO client each"
    )
    parser.add_argument(
        "--messages", type=int, default=50, help="messages in the busy customer's conversation"
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--probes", type=int, default=200, help="messages for the fan-out")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    report([run(kind, args) for kind in kinds], args)


if __name__ == "__main__":
    main()
