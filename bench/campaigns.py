"""A large email campaign (helpdesk issue 21): messages per second per worker and with
two workers, and the inbox page while it runs compared with idle.

    .venv/bin/python bench/campaigns.py [--database sqlite|postgresql] [--recipients N]
                                        [--tickets N] [--rounds N] [--keep]

Loads an inbox (bench/inbox_data.py: ``--tickets`` tickets, their customers and agents)
and ``--recipients`` more customers (default 100,000) tagged ``news`` with an email
address and the email marketing consent granted, a shared segment of them, and a
mailbox whose SMTP server is a local sink (aiosmtpd in a process of its own that counts
and drops what it gets). Throttling is off (``HELPDESK_CAMPAIGN_EMAIL_RATE=0``), Redis
is a ``redis-server`` of the bench's own.

Then, twice (one worker, then two: ``HELPDESK_CAMPAIGN_SENDERS`` follows; ``--workers``
picks), a campaign to the segment is sent through ``campaigns.services.send`` and
``helpdesk worker`` processes do the work (stopped once it is sent): the time to make
the recipient rows (``preparing``), then the time from the first to the last mail at
the sink, and messages per second over it; the CPU the workers and the sink used, and
how busy the whole machine was. The sink offers PIPELINING as MTAs do
(``--no-pipelining``: not); ``--profile DIR`` runs each worker under cProfile. Meanwhile this process requests ``/inbox?view=all`` as an admin (the Flask
test client, in-process, a fresh app context per request, as bench/inbox.py does) and
the p99 is compared with ``--rounds`` requests made before, idle.

Targets: at least 300 messages/s per worker; the inbox p99 within 20 % of idle.

Figures (PostgreSQL, this shared 2-core machine at load 3 to 15; every run in
docs/architecture.md, campaigns/): before issue 21's second pass one worker 97-187/s,
the inbox p99 +31 % to +256 % while sending, 1.1-1.3 ms of worker CPU a mail; after it
(one transaction and, with PIPELINING, one round trip a batch; the sender niced) one
worker 115-217/s with nice 10 and 164-301/s with nice 0 (301/s at load 5), two 392/s
(196 each); the inbox p99 +6 % to +85 % with nice 10, +71 % to +241 % with nice 0; 0.6
ms of worker CPU a mail, the sink 0.4-0.55 ms. On a quiet machine (load under 3, the
defaults): one worker 316/s at 100,000 (327/s at 30,000), the inbox p99 +10 % (+3 %);
two 563/s (282 each), +23 %.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import inbox_data  # noqa: E402
from bench.common import (  # noqa: E402
    ROOT,
    bench_app,
    database_url,
    drop_database,
    machine_busy,
    summary,
)
from bench.common import process_cpu_seconds as cpu_seconds  # noqa: E402
from bench.inbox import logged_in  # noqa: E402

SECRETS_KEY = "YmVuY2gtY2FtcGFpZ25zLXNlY3JldHMta2V5LTAwMDA="
SECRET_KEY = "bench-campaigns"
SINK = r"""
import asyncio, sys, time
from aiosmtpd.controller import Controller
class Count:
    def __init__(self): self.n = 0; self.first = self.last = 0.0
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if sys.argv[3] == "1":  # as the MTAs a campaign goes to offer it (Postfix, Exim...)
            responses.insert(-1, "250-PIPELINING")
        return responses
    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        self.first = self.first or now
        self.n += 1; self.last = now
        return "250 OK"
handler = Count()
controller = Controller(handler, hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
path = sys.argv[2]
while True:
    time.sleep(0.2)
    with open(path + ".tmp", "w") as f:
        f.write(f"{handler.n} {handler.first} {handler.last}")
    import os; os.replace(path + ".tmp", path)
"""


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """A redis-server of the bench's own (no persistence)."""
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    from redis import Redis

    for _ in range(100):
        try:
            Redis(port=port).ping()
            break
        except Exception:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def sink_count(path: Path) -> tuple[int, float, float]:
    """What the sink has counted: (mails, first time, last time)."""
    try:
        n, first, last = path.read_text().split()
    except (FileNotFoundError, ValueError):
        return 0, 0.0, 0.0
    return int(n), float(first), float(last)


def load_recipients(count: int) -> None:
    """``count`` customers tagged ``news``, an email each, the marketing consent granted."""
    from helpdesk.customers.models import Consent, Customer, Identity
    from helpdesk.db import utcnow
    from helpdesk.extensions import db

    now = utcnow()
    start = (db.session.execute(text("SELECT max(id) FROM customers")).scalar() or 0) + 1
    for low in range(start, start + count, 5000):
        ids = range(low, min(low + 5000, start + count))
        db.session.execute(
            insert(Customer),
            [
                {
                    "id": n,
                    "name": f"Reader {n}",
                    "tags": ["news"],
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                    "key_person": False,
                }
                for n in ids
            ],
        )
        db.session.execute(
            insert(Identity),
            [
                {
                    "customer_id": n,
                    "kind": "email",
                    "value": f"reader{n}@sink.example",
                    "created_at": now,
                }
                for n in ids
            ],
        )
        db.session.execute(
            insert(Consent),
            [
                {
                    "customer_id": n,
                    "purpose": "email_marketing",
                    "granted": True,
                    "at": now,
                    "source": "bench",
                }
                for n in ids
            ],
        )
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE customers, identities, consents"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def inbox_times(client, rounds: int) -> list[float]:
    """``rounds`` requests of the admin's inbox; seconds each."""
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client.get("/inbox?view=all")
        seconds.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.status_code
    return seconds


def run_campaign(
    app, url: str, redis: str, sink, sink_file: Path, workers: int, client, name: str, profile
) -> dict:
    """Send one campaign with ``workers`` worker processes; the figures."""
    from helpdesk import unit_of_work
    from helpdesk.agents.models import Agent
    from helpdesk.campaigns import services
    from helpdesk.campaigns.models import Campaign
    from helpdesk.extensions import db
    from helpdesk.segments.models import Segment

    with app.app_context():
        admin = db.session.execute(
            db.select(Agent).filter_by(email=inbox_data.ADMIN_EMAIL)
        ).scalar_one()
        segment = db.session.execute(db.select(Segment).filter_by(name="Readers")).scalar_one()
        campaign = services.create(
            admin,
            {
                "name": name,
                "segment": segment.id,
                "channel": "email",
                "subject": "News for {first_name}",
                "body": "Dear {customer_name},\n\nour news.",
            },
        )
        services.send(campaign, admin, None)
        campaign_id = campaign.id
        unit_of_work.commit()
    before, _, _ = sink_count(sink_file)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis,
        "SECRET_KEY": SECRET_KEY,
        "HELPDESK_SECRETS_KEY": SECRETS_KEY,
        "HELPDESK_CAMPAIGN_EMAIL_RATE": "0",
        "HELPDESK_CAMPAIGN_SENDERS": str(workers),
    }
    started = time.time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    sink_cpu, machine = cpu_seconds(sink.pid), machine_busy()
    profiler = []
    if profile:
        profiler = ["-m", "cProfile", "-o", f"{profile}/worker-{workers}-{{n}}.prof"]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                *(arg.replace("{n}", str(n)) for arg in profiler),
                "-m",
                "helpdesk",
                "worker",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(workers)
    ]
    busy: list[float] = []
    prepared = None
    # Workers that wait for jobs (a --burst one that found the queue empty at its start,
    # the other one making the recipients, left: one worker did all the sending), stopped
    # (SIGTERM: RQ's warm shutdown) once the campaign is sent.
    status = "preparing"
    while status in ("preparing", "sending") and any(p.poll() is None for p in processes):
        busy.extend(inbox_times(client, 5))
        with app.app_context():
            status = db.session.get(Campaign, campaign_id).status
        if prepared is None and status != "preparing":
            prepared = time.time() - started
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait()
    with app.app_context():
        counts = services.counts(campaign_id)
        status = db.session.get(Campaign, campaign_id).status
    n, first, last = sink_count(sink_file)
    time.sleep(0.5)
    n, first, last = sink_count(sink_file)
    mails = n - before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    busy_now, total_now = machine_busy()
    return {
        "workers": workers,
        "status": status,
        "sent": counts["sent"],
        "at_sink": mails,
        "prepare_s": prepared or 0.0,
        "send_s": max(1e-9, last - max(first, started + (prepared or 0))) if mails else 0.0,
        "busy": busy,
        "worker_cpu": worker_cpu,
        "sink_cpu": cpu_seconds(sink.pid) - sink_cpu,
        "machine": (busy_now - machine[0], total_now - machine[1]),
        "wall": time.time() - started,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    """Load, send twice, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--tickets", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--no-pipelining",
        dest="pipelining",
        action="store_false",
        help="the sink does not offer PIPELINING (the sender goes in lockstep)",
    )
    parser.add_argument("--workers", default="1,2", help="the runs' numbers of workers")
    parser.add_argument("--name", default="bench_campaigns", help="the database's name")
    parser.add_argument("--profile", help="a folder: each worker runs under cProfile, into it")
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is not installed")
    folder = Path(tempfile.mkdtemp(prefix="bench-campaigns-"))
    redis, redis_url = start_redis(folder)
    sink_port, sink_file = free_port(), folder / "sink.count"
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(sink_port), str(sink_file), str(int(args.pipelining))]
    )
    url = database_url(args.database, args.name)
    try:
        config = {"SECRET_KEY": SECRET_KEY, "SECRETS_KEY": SECRETS_KEY}
        with bench_app(url, **config) as app:
            from helpdesk.channels.email.mailboxes import add_mailbox
            from helpdesk.extensions import db
            from helpdesk.segments.models import Segment

            started = time.perf_counter()
            inbox_data.load(args.tickets, 50, 5, 10)
            load_recipients(args.recipients)
            add_mailbox(
                "News", "imap://127.0.0.1:9/", f"smtp://127.0.0.1:{sink_port}", "news@bench.example"
            )
            db.session.add(Segment(name="Readers", filter={"tag": ["news"]}, shared=True))
            db.session.commit()
            print(
                f"loaded {args.tickets} tickets and {args.recipients} recipients in "
                f"{time.perf_counter() - started:.0f} s ({args.database})",
                flush=True,
            )
            app.config["REDIS_URL"] = redis_url
        from helpdesk.web.serving import settle_heap

        settle_heap()
        client = logged_in(app, inbox_data.ADMIN_EMAIL)
        idle = inbox_times(client, args.rounds)
        results = [
            run_campaign(app, url, redis_url, sink, sink_file, w, client, f"Run {w}", args.profile)
            for w in [int(n) for n in args.workers.split(",")]
        ]
        idle_median, idle_p99 = summary(idle)
        print(
            f"\ninbox idle: median {idle_median:.1f} ms, p99 {idle_p99:.1f} ms "
            f"({len(idle)} requests)"
        )
        for r in results:
            busy_median, busy_p99 = summary(r["busy"])
            rate = r["at_sink"] / r["send_s"] if r["send_s"] else 0.0
            print(
                f"{r['workers']} worker(s): {r['status']}, {r['sent']} sent, {r['at_sink']} at the sink; "
                f"recipients made in {r['prepare_s']:.1f} s; sending {r['send_s']:.1f} s = "
                f"{rate:.0f} messages/s ({rate / r['workers']:.0f} per worker); inbox while sending: "
                f"median {busy_median:.1f} ms, p99 {busy_p99:.1f} ms "
                f"({(busy_p99 / idle_p99 - 1) * 100:+.0f} % vs idle, {len(r['busy'])} requests)",
                flush=True,
            )
            busy_s, total_s = r["machine"]
            print(
                f"  CPU over the {r['wall']:.0f} s run: worker(s) {r['worker_cpu']:.1f} s "
                f"({r['worker_cpu'] * 1000 / max(1, r['at_sink']):.2f} ms a mail), sink "
                f"{r['sink_cpu']:.1f} s ({r['sink_cpu'] * 1000 / max(1, r['at_sink']):.2f} ms a "
                f"mail), machine {busy_s / max(1e-9, total_s) * 100:.0f} % busy; load {r['load']:.1f}",
                flush=True,
            )
    finally:
        for process in (sink, redis):
            process.terminate()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
