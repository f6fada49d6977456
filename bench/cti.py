"""Benchmark the incoming-call hot path: signed Twilio voice webhooks from concurrent
clients against a running `helpdesk serve`, timing request -> TwiML and
request -> `call.incoming` at a connected Socket.IO agent client.

    .venv/bin/python bench/cti.py                      # PostgreSQL 1,000,000 + SQLite 100,000
    .venv/bin/python bench/cti.py --db sqlite --customers 20000 --calls 300   # a quick run

Customers are loaded with SQLAlchemy Core bulk inserts into a throw-away
database (PostgreSQL ``hd_bench_cti`` or ``/tmp/hd_bench_cti.db``); a database
that already holds the wanted number of customers is reused (``--reload`` forces).
Targets on the 2-core machine: p99 to TwiML < 50 ms, p99 to the screen pop < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import socketio
from sqlalchemy import func, insert, select
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import after_bulk_load, free_port  # noqa: E402
from bench.common import serve as common_serve  # noqa: E402

TOKEN = "bench-twilio-auth-token"
OUR_NUMBER = "+4930555000"
PG_BASE = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1")
TARGET_TWIML, TARGET_POP = 0.050, 0.100


def phone(i: int) -> str:
    """The E.164 number of customer ``i`` (German mobile numbers)."""
    return f"+49151{i:08d}"


def database_url(kind: str, reload: bool) -> str:
    """A database for the run: PostgreSQL ``hd_bench_cti`` or a SQLite file."""
    if kind == "sqlite":
        path = Path("/tmp/hd_bench_cti.db")
        if reload:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'hd_bench_cti'").fetchone()
        if reload and exists:
            conn.execute('DROP DATABASE "hd_bench_cti" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute('CREATE DATABASE "hd_bench_cti"')
    return f"{PG_BASE}/hd_bench_cti"


class Mismatch(Exception):
    """The database holds another number of customers than asked for."""


def load(url: str, customers: int) -> str:
    """Migrate, load customers (Core bulk inserts), a team, an online agent; return a token."""
    os.environ["DATABASE_URL"] = url
    from flask_migrate import upgrade

    from helpdesk import create_app
    from helpdesk.agents.models import Agent, ApiToken, Team
    from helpdesk.channels.models import Channel
    from helpdesk.customers.models import Customer, Identity, Order
    from helpdesk.db import utcnow
    from helpdesk.extensions import db
    from helpdesk.tickets.models import Call, Ticket

    app = create_app({"SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        have = db.session.scalar(select(func.count(Customer.id)))
        if have != customers:
            if have:
                raise Mismatch(have)
            started, batch, now = time.perf_counter(), 10_000, utcnow()
            for first in range(1, customers + 1, batch):
                ids = range(first, min(first + batch, customers + 1))
                db.session.execute(
                    insert(Customer),
                    [
                        {
                            "id": i,
                            "name": f"Customer {i}",
                            "tags": [],
                            "custom_fields": {},
                            "created_at": now,
                            "updated_at": now,
                        }
                        for i in ids
                    ],
                )
                db.session.execute(
                    insert(Identity),
                    [
                        {"customer_id": i, "kind": "phone", "value": phone(i), "created_at": now}
                        for i in ids
                    ],
                )
                db.session.execute(
                    insert(Order),
                    [
                        {
                            "number": f"B-{i}",
                            "customer_id": i,
                            "status": "shipped",
                            "ordered_at": now,
                            "updated_at": now,
                        }
                        for i in ids
                        if i % 10 == 0
                    ],
                )
                db.session.execute(
                    insert(Ticket),
                    [
                        {
                            "subject": f"Question {i}",
                            "status": "open",
                            "priority": "normal",
                            "channel": "sms",
                            "customer_id": i,
                            "created_at": now,
                            "updated_at": now,
                            "last_message_at": now,
                            "message_count": 0,
                        }
                        for i in ids
                        if i % 20 == 0
                    ],
                )
                db.session.commit()
            db.session.commit()
            after_bulk_load("customers", "orders", "tickets")
            print(f"  loaded {customers:,} customers in {time.perf_counter() - started:.0f} s")
        db.session.execute(Call.__table__.delete())  # calls of an earlier run
        team = db.session.execute(select(Team).where(Team.name == "Phones")).scalar_one_or_none()
        if team is None:
            team = Team(name="Phones")
            agent = Agent(
                email="bench@example.com",
                name="Bench Agent",
                role="agent",
                presence="online",
                teams=[team],
            )
            db.session.add_all(
                [
                    team,
                    agent,
                    Channel(
                        kind="phone",
                        name="Hotline",
                        address=OUR_NUMBER,
                        team=team,
                        settings={},
                        secrets={},
                        state={},
                    ),
                ]
            )
        agent = db.session.execute(
            select(Agent).where(Agent.email == "bench@example.com")
        ).scalar_one()
        row, clear = ApiToken.issue(agent)
        db.session.add(row)
        db.session.commit()
        db.engine.dispose()
    return clear


def serve(url: str, port: int, log: Path) -> subprocess.Popen:
    """Start `helpdesk serve` against ``url`` and wait until it answers."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SECRET_KEY": "bench",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_NUMBER": OUR_NUMBER,
    }
    env.pop("REDIS_URL", None)
    env.pop("PUBLIC_URL", None)
    return common_serve(env, port, log)


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def fire(base: str, token: str, customers: int, calls: int, concurrency: int, rate: float) -> dict:
    """Send ``calls`` signed voice webhooks; time TwiML and the screen pop of each."""
    url = f"{base}/webhooks/twilio/voice"
    validator = RequestValidator(TOKEN)
    sent: dict[str, float] = {}
    popped: dict[str, float] = {}
    client = socketio.Client(reconnection=False)
    client.on(
        "call.incoming",
        lambda data: popped.setdefault(data["call"]["provider_id"], time.monotonic()),
        namespace="/agents",
    )
    client.connect(
        base,
        namespaces=["/agents"],
        transports=["websocket"],
        auth={"token": token},
        wait_timeout=10,
    )
    local = threading.local()

    def request(n: int) -> tuple[str, dict, dict]:
        """Call ``n``: its CallSid, form fields and signature header."""
        known = n % 10 != 0  # every tenth caller is unknown
        caller = phone(random.randint(1, customers)) if known else f"+4917{n:09d}"
        sid = "CA" + uuid.uuid4().hex
        params = {
            "CallSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": caller,
            "To": OUR_NUMBER,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        return sid, params, {"X-Twilio-Signature": validator.compute_signature(url, params)}

    prepared = [request(n) for n in range(calls + 50)]  # signed before the clock runs

    def one(n: int) -> float:
        """Post call ``n``; return the seconds until its TwiML came back."""
        sid, params, headers = prepared[n]
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.monotonic()
        sent[sid] = started
        response = session.post(url, data=params, headers=headers, timeout=10)
        elapsed = time.monotonic() - started
        if response.status_code != 200 or b"<Response>" not in response.content:
            raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
        return elapsed

    def paced(n: int) -> float:
        """Post call ``n`` at its planned time."""
        if rate:  # open loop: call n starts at its planned time, whatever came before
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return one(n)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(calls, calls + 50)))  # warm-up: connections, caches
        sent.clear()
        popped.clear()
        start = time.monotonic()
        twiml = list(pool.map(paced, range(calls)))
        elapsed = time.monotonic() - start
    deadline = time.monotonic() + 5
    while len(popped.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.05)
    client.disconnect()
    pops = [popped[sid] - sent[sid] for sid in sent if sid in popped]
    return {"twiml": twiml, "pop": pops, "missing": len(sent) - len(pops), "rate": calls / elapsed}


def report(kind: str, customers: int, calls: int, concurrency: int, result: dict) -> bool:
    """Print the figures of one run; True when both targets are met."""
    twiml, pop = result["twiml"], result["pop"]
    ok = (
        percentile(twiml, 0.99) < TARGET_TWIML
        and pop
        and percentile(pop, 0.99) < TARGET_POP
        and not result["missing"]
    )
    print(
        f"{kind}: {customers:,} customers, {calls} calls from {concurrency} concurrent clients, "
        f"{result['rate']:.1f} calls/s"
    )
    print(
        f"  request -> TwiML        median {statistics.median(twiml) * 1000:6.1f} ms   "
        f"p99 {percentile(twiml, 0.99) * 1000:6.1f} ms   (target p99 < 50 ms)"
    )
    if pop:
        print(
            f"  request -> call.incoming median {statistics.median(pop) * 1000:6.1f} ms   "
            f"p99 {percentile(pop, 0.99) * 1000:6.1f} ms   (target p99 < 100 ms)"
        )
    print(f"  screen pops missing: {result['missing']}   -> {'OK' if ok else 'MISSED'}")
    return bool(ok)


def main() -> None:
    """Run the benchmark on the chosen databases."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument(
        "--customers",
        type=int,
        help="customers to load (default: PostgreSQL 1,000,000, SQLite 100,000)",
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument(
        "--rate",
        type=float,
        default=20.0,
        help="calls a second (open loop); 0: each client fires as fast as it can",
    )
    parser.add_argument("--reload", action="store_true", help="drop and reload the database")
    args = parser.parse_args()
    kinds = ["postgres", "sqlite"] if args.db == "both" else [args.db]
    all_ok = True
    for kind in kinds:
        customers = args.customers or (1_000_000 if kind == "postgres" else 100_000)
        url = database_url(kind, args.reload)
        print(f"{kind}: preparing {customers:,} customers in {url}")
        try:
            token = load(url, customers)
        except Mismatch as held:
            print(f"  it holds {held.args[0]:,} customers: reloading")
            token = load(database_url(kind, True), customers)
        port, log = free_port(), Path(f"/tmp/hd_bench_cti_{kind}.log")
        server = serve(url, port, log)
        try:
            result = fire(
                f"http://127.0.0.1:{port}",
                token,
                customers,
                args.calls,
                args.concurrency,
                args.rate,
            )
        finally:
            server.terminate()
            server.wait(timeout=10)
        all_ok &= report(kind, customers, args.calls, args.concurrency, result)
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
