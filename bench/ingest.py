"""Ingest throughput and customer lookup latency with a large CRM.

    .venv/bin/python bench/ingest.py [--db sqlite|postgresql|both] [--customers N] [--messages N]

With N customers loaded (each with an email and a phone identity), ingest
messages from known and unknown senders through the real ingest service
(in-process, REDIS_URL unset) and time it; then time customer lookups by
phone (written in varied formats) and by email, and the full customer card.
Targets (issue 2): at least 500 messages/s on SQLite; lookup p99 under 2 ms.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (bench_app, database_url, email_of, load_customers,  # noqa: E402
                          phone_of, summary)

HTML = ("<html><body><p>Hello team,</p><p>my order <b>{n}</b> has not arrived.</p>"
        "<blockquote>On Monday you wrote: it ships today</blockquote>"
        "<p style='color:red' onclick='x()'>Regards</p><script>track()</script></body></html>")
TEXT = ("Hello, I ordered last week and the parcel has not arrived yet. Could you check the "
        "status of order {n}? Thanks a lot.\n\n-- \nSent from my phone")


def messages(count: int, customers: int, rng: random.Random):
    """Inbound messages: about 70 % known senders (some several times), 30 % unknown."""
    from helpdesk.tickets.inbound import InboundMessage

    regulars = [rng.randint(1, customers) for _ in range(count // 10)]
    for i in range(count):
        known = rng.random() < 0.7
        n = rng.choice(regulars) if known and rng.random() < 0.4 else rng.randint(1, customers)
        sms = rng.random() < 0.4
        if sms:
            sender = phone_of(n) if known else f"+4917{rng.randint(10**8, 10**9 - 1)}"
            yield known, InboundMessage(channel="sms", sender_kind="phone", sender=sender,
                                        text=TEXT.format(n=i)[:300], external_id=f"SM{i:032d}")
        else:
            sender = email_of(n) if known else f"new{i}@elsewhere.example"
            html = HTML.format(n=i) if rng.random() < 0.5 else None
            yield known, InboundMessage(channel="email", sender_kind="email", sender=sender,
                                        sender_name=f"Sender {n}", subject=f"Order {n % 500}",
                                        text="" if html else TEXT.format(n=i), html=html,
                                        external_id=f"<bench-{i}@mail.example>",
                                        raw=(html or TEXT).encode())


def written(n: int, rng: random.Random) -> str:
    """Customer ``n``'s number the way people write it."""
    national = phone_of(n)[3:]
    return rng.choice([f"+49 {national[:3]} {national[3:]}", f"0049 {national}",
                       f"0{national[:3]} {national[3:]}", f"+49 ({national[:3]}) {national[3:]}"])


def run(kind: str, customers: int, count: int) -> dict:
    """One database's figures."""
    from helpdesk.customers import history, services
    from helpdesk.tickets.ingest import ingest

    rng = random.Random(7)
    url = database_url(kind, "bench_ingest")
    with bench_app(url):
        load_seconds = load_customers(customers)
        times = {True: [], False: []}
        started = time.perf_counter()
        for known, inbound in messages(count, customers, rng):
            t0 = time.perf_counter()
            ingest(inbound)
            times[known].append(time.perf_counter() - t0)
        total = time.perf_counter() - started
        lookups = {"phone": [], "email": [], "card": []}
        for _ in range(10_000):
            n = rng.randint(1, customers)
            t0 = time.perf_counter()
            found = services.find_by_identity("phone", written(n, rng))
            lookups["phone"].append(time.perf_counter() - t0)
            assert found is not None and found.id == n, (n, found)
            t0 = time.perf_counter()
            services.find_by_identity("email", email_of(n).upper())
            lookups["email"].append(time.perf_counter() - t0)
        for _ in range(2_000):
            t0 = time.perf_counter()
            history.card(services.find_by_identity("phone", phone_of(rng.randint(1, customers))))
            lookups["card"].append(time.perf_counter() - t0)
        from helpdesk.extensions import db

        db.session.rollback()
    all_times = times[True] + times[False]
    return {"db": kind, "load_s": load_seconds, "rate": count / total,
            "known_rate": len(times[True]) / sum(times[True]),
            "unknown_rate": len(times[False]) / sum(times[False]),
            "ingest": summary(all_times), "phone": summary(lookups["phone"]),
            "email": summary(lookups["email"]), "card": summary(lookups["card"])}


def main() -> None:
    """Parse arguments, run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=5_000)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [run(kind, args.customers, args.messages) for kind in kinds]
    print(f"\ningest benchmark: {args.customers:,} customers, {args.messages:,} messages "
          f"(70 % known senders), one process, REDIS_URL unset")
    print(f"{'':28}" + "".join(f"{r['db']:>16}" for r in results) + "   target")
    rows = [("load customers (s)", "load_s", "{:.1f}", ""),
            ("ingest messages/s", "rate", "{:.0f}", ">= 500 (SQLite)"),
            ("  known senders msg/s", "known_rate", "{:.0f}", ""),
            ("  unknown senders msg/s", "unknown_rate", "{:.0f}", "")]
    for label, key, fmt, target in rows:
        print(f"{label:28}" + "".join(f"{fmt.format(r[key]):>16}" for r in results) + f"   {target}")
    for label, key, target in (("ingest per message ms", "ingest", ""),
                               ("lookup by phone ms", "phone", "p99 < 2"),
                               ("lookup by email ms", "email", "p99 < 2"),
                               ("customer card ms", "card", "")):
        cells = "".join(f"{'%.2f / %.2f' % r[key]:>16}" for r in results)
        print(f"{label + ' (median / p99)':28}"[:28] + cells + f"   {target}")


if __name__ == "__main__":
    main()
