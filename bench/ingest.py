"""Ingest throughput and customer lookup latency with a large CRM (helpdesk issue 2).

    .venv/bin/python bench/ingest.py [--db sqlite|postgresql|both] [--customers N]
                                     [--messages N] [--lookups N] [--keep]
                                     [--workers-only [--rounds N]]

Loads N customers (an email and a phone identity each, two in three with an
organization, one in four with an order) into a fresh database built by the
migrations, then sends inbound email and SMS from known and unknown senders
through the real ``helpdesk.tickets.ingest.ingest`` (REDIS_URL unset: emits and
follow-up jobs run in-process, one commit per message) and times each call.
Then it times ``find_by_identity`` by phone (written the ways people write
numbers) and by email, and the screen pop: lookup plus ``history.card``.

Then, on a second fresh database with the same customers, the same messages go
through the database work alone (``floor``): per message only the statements
no ingest can do without, as bare SQLAlchemy Core, plus the HTML cleaning; no
ORM objects, SLA, audit trail, realtime payloads or follow-up jobs. That rate,
committing each message and committing every 50, is the limit of this stack on
this machine, so the ratio to the real ingest shows (``--no-floor`` skips it).
Targets: at least 500 messages/s on SQLite; lookup p99 under 2 ms.

Then the same messages through batch ingest (``tickets.ingest.batch.ingest_many``, a
transaction per 50) on a third fresh database, against the bare statements committing
every 50 (issue 20: at least 0.6); and on PostgreSQL one, then two worker processes
batch-ingesting N messages each into one database (each its own third of the customers;
process start-up not timed): two at least 1.6 times one. Beside that ratio it prints how
much of a core each worker process had (CPU / wall) and how long it waited for one
(Linux schedstat): when the machine has no idle core, a second process cannot go faster.
``--workers-only`` runs just that part (``--rounds`` times). Measured 2026-12-06 (6,000
customers, 600 messages per process, load average 4 to 15 on the two cores, see
docs/architecture.md, ingest): two processes 1.51, 1.16, 1.07,
1.18 times one before the reporting rows moved to the commit (15-19 % of the samples
waiting on a rollup row lock), 1.02, 1.18, 0.80, 0.88, 0.83, 1.00 after (no lock
waits); each worker waited for a core 37-70 % of its time: the machine was the limit.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import inspect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    bench_app,
    database_url,
    drop_database,
    email_of,
    load_customers,
    phone_of,
    summary,
)
from helpdesk.web.serving import settle_heap  # noqa: E402

WORDS = (
    "order parcel delivery invoice refund account password login address payment "
    "tracking number week yesterday please could you check status arrived damaged "
    "replacement thanks again still waiting since monday colleague warehouse"
).split()
TARGET_RATE = 500
TARGET_P99_MS = 2.0
TARGET_BATCH_RATIO = 0.6  # batch ingest against the bare statements committing every 50
TARGET_WORKERS = 1.6  # two PostgreSQL worker processes against one
TODAY_ONE_RATIO = 0.32  # issue 20: ingest one at a time against the bare statements (each)


def sentence(rng: random.Random) -> str:
    """A sentence of plausible support words."""
    return " ".join(rng.choices(WORDS, k=rng.randint(6, 18))).capitalize() + "."


def paragraphs(rng: random.Random, count: int) -> list[str]:
    """``count`` paragraphs of two to five sentences."""
    return [" ".join(sentence(rng) for _ in range(rng.randint(2, 5))) for _ in range(count)]


def email_body(rng: random.Random, name: str, reply: bool) -> tuple[str, str]:
    """Plain text and HTML of one email: a few paragraphs, a signature, on replies a quote."""
    body = paragraphs(rng, rng.randint(1, 6))
    quote = paragraphs(rng, rng.randint(1, 4)) if reply else []
    text = "\n\n".join(["Hello,", *body, f"Regards\n{name}\n-- \nSent from my laptop"])
    if quote:
        text += "\n\nOn Monday support wrote:\n" + "\n".join(f"> {p}" for p in quote)
    html = (
        "<html><head><style>p{margin:0}</style><script>track()</script></head><body>"
        + "".join(f"<p style='color:#222' onclick='x()'>{p}</p>" for p in body)
        + f"<p>Regards<br><b>{name}</b></p><img src='https://t.example/o.gif' width=1>"
        + (f"<blockquote>{''.join(f'<p>{p}</p>' for p in quote)}</blockquote>" if quote else "")
        + "</body></html>"
    )
    return text, html


def messages(count: int, customers: int, rng: random.Random, first: int = 1, tag: str = ""):
    """``(known, customer n, InboundMessage)``: 70 % known senders (a tenth of them writing several
    times, so conversations continue), 30 % unknown; 40 % SMS, 60 % email, half with HTML.
    Known senders are customers ``first`` to ``first + customers - 1``; ``tag`` marks the
    unknown ones' addresses (a worker process of its own writes to customers of its own)."""
    from helpdesk.channels.inbound import InboundMessage

    last = first + customers - 1
    regulars = [rng.randint(first, last) for _ in range(max(1, count // 10))]
    written = set()
    for i in range(count):
        known = rng.random() < 0.7
        n = rng.choice(regulars) if known and rng.random() < 0.4 else rng.randint(first, last)
        if rng.random() < 0.4:
            sender = phone_of(n) if known else f"+49160{rng.randint(10**7, 10**8 - 1)}"
            text = " ".join(sentence(rng) for _ in range(rng.randint(1, 3)))[:480]
            yield (
                known,
                n,
                InboundMessage(
                    channel="sms",
                    sender_kind="phone",
                    sender=sender,
                    text=text,
                    external_id=f"SM{uuid.uuid4().hex}",
                ),
            )
            continue
        if known:
            sender, name = email_of(n), f"Customer {n}"
        else:
            domain = (
                f"org{rng.randint(1, 200)}.example" if rng.random() < 0.3 else "freemail.example"
            )
            sender, name = f"new.person{tag}{i}@{domain}", f"New Person {i}"
        reply = (known, n) in written
        written.add((known, n))
        text, html = email_body(rng, name, reply)
        form = rng.random()  # plain text only, text and HTML, HTML only
        text, html = (text, None) if form < 0.5 else (text, html) if form < 0.85 else ("", html)
        message_id = f"<{uuid.uuid4().hex}@mail.example>"
        raw = (
            f"From: {name} <{sender}>\r\nTo: support@help.example\r\nMessage-ID: "
            f"{message_id}\r\nSubject: Order {n % 1000}\r\n\r\n{text}\r\n{html or ''}"
        )
        yield (
            known,
            n,
            InboundMessage(
                channel="email",
                sender_kind="email",
                sender=sender,
                sender_name=name,
                subject=f"{'Re: ' if reply else ''}Order {n % 1000}: where is my parcel?",
                recipient="support@help.example",
                text=text,
                html=html,
                external_id=message_id,
                raw=raw.encode(),
            ),
        )


def written_phone(n: int, rng: random.Random) -> str:
    """Customer ``n``'s number the way people write it (0049 30 ..., +49 (30) ..., 030 ...)."""
    e164 = phone_of(n)
    area, rest = (e164[3:6], e164[6:]) if e164.startswith("+49151") else (e164[3:5], e164[5:])
    return rng.choice(
        [
            f"+49 {area} {rest}",
            f"0049 {area} {rest}",
            f"+49 ({area}) {rest}",
            f"0{area} {rest[:4]} {rest[4:]}",
            f"0{area}/{rest[:4]}-{rest[4:]}",
            e164,
        ]
    )


def written_email(n: int, rng: random.Random) -> str:
    """Customer ``n``'s address as typed into a search box."""
    address = email_of(n)
    return rng.choice([address, address.upper(), f" {address.capitalize()} "])


def timed(fn, *args):
    """``(result, seconds)`` of one call."""
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def run(
    kind: str, customers: int, count: int, lookups: int, keep: bool, with_floor: bool = True
) -> dict:
    """Load, ingest, look up on one database; its figures."""
    from helpdesk.customers import history, services
    from helpdesk.extensions import db
    from helpdesk.tickets.ingest import ingest

    rng = random.Random(7)
    url = database_url(kind, "bench_ingest")
    figures = {"db": kind}
    print(f"{kind}: loading {customers:,} customers ...", file=sys.stderr, flush=True)
    with bench_app(url):
        figures["load_s"] = load_customers(customers)
        inbound = list(messages(count, customers, rng))
        settle_heap()  # as `helpdesk serve` and `helpdesk worker` do before they work
        print(f"{kind}: ingesting {count:,} messages ...", file=sys.stderr, flush=True)
        times = {True: [], False: []}
        senders = []
        cpu, started = time.process_time(), time.perf_counter()
        for known, n, message in inbound:
            result, seconds = timed(ingest, message)
            times[known].append(seconds)
            if known:
                senders.append(n)
            assert (
                inspect(result.customer).identity == (n,) if known else result.created_customer
            ), message
        figures["ingest_s"] = time.perf_counter() - started
        figures["cpu_ms"] = (time.process_time() - cpu) / count * 1000
        print(f"{kind}: {lookups:,} lookups by phone and by email ...", file=sys.stderr, flush=True)
        phone, email, pop = [], [], []
        for _ in range(lookups):
            n = rng.randint(1, customers)
            found, seconds = timed(services.find_by_identity, "phone", written_phone(n, rng))
            assert found is not None and found.id == n, n
            phone.append(seconds)
            found, seconds = timed(services.find_by_identity, "email", written_email(n, rng))
            assert found is not None and found.id == n, n
            email.append(seconds)
        for i in range(max(1, lookups // 5)):
            # Half the callers wrote in during the run: their cards have tickets.
            n = rng.choice(senders) if i % 2 and senders else rng.randint(1, customers)
            started = time.perf_counter()
            card = history.card(services.find_by_identity("phone", written_phone(n, rng)))
            pop.append(time.perf_counter() - started)
            assert card["customer"]["id"] == n
        db.session.rollback()
    if not keep:
        drop_database(url)
    if with_floor:
        url = database_url(kind, "bench_ingest_floor")
        print(
            f"{kind}: the database work alone, on a second database ...",
            file=sys.stderr,
            flush=True,
        )
        with bench_app(url):
            load_customers(customers)
            plain = [message for _, _, message in inbound]
            figures["floor"] = floor(plain[: len(plain) // 2], 1)
            figures["floor_batched"] = floor(plain[len(plain) // 2 :], 50)
        drop_database(url)
    figures["batch_rate"] = batched([message for _, _, message in inbound], kind, customers)
    if kind == "postgresql":
        figures["workers"] = workers(customers, count)
    all_times = times[True] + times[False]
    figures.update(
        rate=count / figures["ingest_s"],
        known_rate=len(times[True]) / sum(times[True]),
        unknown_rate=len(times[False]) / sum(times[False]),
        ingest=summary(all_times),
        ingest_known=summary(times[True]),
        ingest_unknown=summary(times[False]),
        phone=summary(phone),
        email=summary(email),
        pop=summary(pop),
    )
    return figures


def floor(inbound: list, batch: int) -> float:
    """Messages/s of the database work alone (see the module's docstring), committing every
    ``batch`` messages. Run on a database holding the customers and no tickets."""
    from sqlalchemy import bindparam, insert, select, update

    from helpdesk import unit_of_work
    from helpdesk.customers.identities import normalise
    from helpdesk.customers.models import Customer, Identity, OrganizationDomain
    from helpdesk.db import utcnow
    from helpdesk.extensions import db
    from helpdesk.tickets.html import clean_html, html_to_text
    from helpdesk.tickets.models import Message, MessageSource, Ticket, TicketEvent

    tickets, messages_, customers_, identities = (
        Ticket.__table__,
        Message.__table__,
        Customer.__table__,
        Identity.__table__,
    )
    duplicate = select(messages_.c.id).where(
        messages_.c.channel == bindparam("channel"),
        messages_.c.external_id == bindparam("external_id"),
    )
    sender = select(identities.c.customer_id).where(
        identities.c.kind == bindparam("kind"), identities.c.value == bindparam("value")
    )
    domain = select(OrganizationDomain.__table__.c.organization_id).where(
        OrganizationDomain.__table__.c.domain == bindparam("domain")
    )
    open_ticket = (
        select(tickets.c.id, tickets.c.message_count)
        .where(
            tickets.c.customer_id == bindparam("customer"),
            tickets.c.channel == bindparam("channel"),
            tickets.c.contact == bindparam("contact"),
            tickets.c.status.in_(("new", "open")),
        )
        .order_by(tickets.c.last_message_at.desc())
        .limit(5)
    )
    add_customer = insert(customers_).returning(customers_.c.id)
    add_ticket = insert(tickets).returning(tickets.c.id)
    add_message = insert(messages_).returning(messages_.c.id)
    touch_ticket = (
        update(tickets)
        .where(tickets.c.id == bindparam("ticket"))
        .values(last_message_at=bindparam("now"), message_count=bindparam("count"))
    )
    touch_customer = (
        update(customers_)
        .where(customers_.c.id == bindparam("customer"))
        .values(last_contact_at=bindparam("now"))
    )

    def store(message) -> None:
        connection = db.session.connection()
        if connection.execute(
            duplicate, {"channel": message.channel, "external_id": message.external_id}
        ).first():
            return
        contact, now = normalise(message.sender_kind, message.sender), utcnow()
        customer = connection.execute(
            sender, {"kind": message.sender_kind, "value": contact}
        ).scalar()
        ticket = None
        if customer is None:
            organization = (
                connection.execute(domain, {"domain": contact.rpartition("@")[2]}).scalar()
                if "@" in contact
                else None
            )
            customer = connection.execute(
                add_customer,
                {
                    "name": message.sender_name,
                    "organization_id": organization,
                    "last_contact_at": now,
                },
            ).scalar()
            connection.execute(
                insert(identities),
                {"customer_id": customer, "kind": message.sender_kind, "value": contact},
            )
        else:
            row = connection.execute(
                open_ticket, {"customer": customer, "channel": message.channel, "contact": contact}
            ).first()
            if row is not None:
                ticket = row.id
                connection.execute(
                    touch_ticket, {"ticket": ticket, "now": now, "count": row.message_count + 1}
                )
            connection.execute(touch_customer, {"customer": customer, "now": now})
        if ticket is None:
            ticket = connection.execute(
                add_ticket,
                {
                    "subject": message.subject or "SMS",
                    "channel": message.channel,
                    "contact": contact,
                    "customer_id": customer,
                    "message_count": 1,
                    "last_message_at": now,
                },
            ).scalar()
            connection.execute(
                insert(TicketEvent.__table__),
                {"ticket_id": ticket, "kind": "created", "data": {"channel": message.channel}},
            )
        html = clean_html(message.html)
        stored = connection.execute(
            add_message,
            {
                "ticket_id": ticket,
                "direction": "in",
                "channel": message.channel,
                "author_kind": "customer",
                "sender": message.sender,
                "subject": message.subject,
                "body_text": message.text or html_to_text(html),
                "body_html": html,
                "external_id": message.external_id,
            },
        ).scalar()
        if message.raw is not None:
            connection.execute(
                insert(MessageSource.__table__), {"message_id": stored, "raw": message.raw}
            )

    started = time.perf_counter()
    for start in range(0, len(inbound), batch):
        with unit_of_work.writing():
            for message in inbound[start : start + batch]:
                store(message)
            db.session.commit()
    return len(inbound) / (time.perf_counter() - started)


def batched(inbound: list, kind: str, customers: int) -> float:
    """Messages/s of ``ingest_many`` (a transaction per 50) on a fresh database."""
    from helpdesk.tickets.ingest.batch import ingest_many

    url = database_url(kind, "bench_ingest_batch")
    print(f"{kind}: the same messages through batch ingest ...", file=sys.stderr, flush=True)
    with bench_app(url):
        load_customers(customers)
        settle_heap()
        started = time.perf_counter()
        results = ingest_many(inbound)
        rate = len(inbound) / (time.perf_counter() - started)
        assert not [r for r in results if isinstance(r, Exception)], "a message failed"
    drop_database(url)
    return rate


def _worker(url: str, first: int, customers: int, count: int, tag: str, ready, go, out) -> None:
    """A worker process: its own app; batch-ingest ``count`` messages when told to."""
    import logging

    from helpdesk.tickets.ingest.batch import ingest_many

    logging.disable(logging.INFO)
    with bench_app(url):
        inbound = [m for _, _, m in messages(count, customers, random.Random(first), first, tag)]
        settle_heap()
        ready.put(tag)
        go.wait()
        started, cpu, queued = time.time(), time.process_time(), _run_queue_wait()
        results = ingest_many(inbound)
        failed = sum(isinstance(r, Exception) for r in results)
        cpu, queued = time.process_time() - cpu, _run_queue_wait() - queued
        out.put((started, time.time(), len(results) - failed, failed, cpu, queued))


def _run_queue_wait() -> float:
    """Seconds this process has waited for a core (Linux /proc schedstat; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def workers(customers: int, count: int) -> dict:
    """Messages/s of 1 and of 2 worker processes batch-ingesting ``count`` messages each
    into one PostgreSQL database (each process its own customers: a third of them)."""
    import multiprocessing

    url = database_url("postgresql", "bench_ingest_workers")
    with bench_app(url):
        load_customers(customers)
    context = multiprocessing.get_context("spawn")
    third = customers // 3
    figures = {}
    for n, firsts in ((1, [1]), (2, [third + 1, 2 * third + 1])):
        print(f"postgresql: {n} worker process(es) ...", file=sys.stderr, flush=True)
        ready, go, out = context.Queue(), context.Event(), context.Queue()
        processes = [
            context.Process(
                target=_worker, args=(url, first, third, count, f"w{first}-", ready, go, out)
            )
            for first in firsts
        ]
        for process in processes:
            process.start()
        for _ in processes:
            ready.get(timeout=600)
        go.set()
        done = [out.get(timeout=1800) for _ in processes]
        for process in processes:
            process.join()
        stored = sum(d[2] for d in done)
        assert stored == n * count and not any(d[3] for d in done), done
        wall = max(d[1] for d in done) - min(d[0] for d in done)
        figures[n] = stored / wall
        # How much of a core each worker process had: near 1, it was the limit; well
        # under, it waited (on the database, or for a core the machine did not have).
        figures[f"cpu{n}"] = sum(d[4] for d in done) / n / wall
        figures[f"queued{n}"] = sum(d[5] for d in done) / n / wall
    drop_database(url)
    return figures


def verdict(results: list[dict], ok) -> str:
    """'met' or which databases missed a target."""
    missed = [r["db"] for r in results if not ok(r)]
    return "met" if not missed else "MISSED on " + ", ".join(missed)


def report(results: list[dict], args) -> None:
    """The table: one column per database, the target and whether it was met."""
    print(
        f"\nbench/ingest.py: {args.customers:,} customers, {args.messages:,} inbound messages "
        f"(70 % known senders, 40 % SMS), {args.lookups:,} lookups of each kind; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    width = 16
    print(f"{'':40}" + "".join(f"{r['db']:>{width}}" for r in results) + "   target")

    def row(label: str, cell, target: str = "") -> None:
        print(
            f"{label:40}"
            + "".join(f"{cell(r):>{width}}" for r in results)
            + (f"   {target}" if target else "")
        )

    def ms(key: str):
        return lambda r: "%.2f / %.2f" % r[key]

    sqlite = [r for r in results if r["db"] == "sqlite"]
    row(
        "ingest, messages/s",
        lambda r: f"{r['rate']:.0f}",
        f">= {TARGET_RATE} on SQLite: "
        + (verdict(sqlite, lambda r: r["rate"] >= TARGET_RATE) if sqlite else "not run"),
    )
    row("  from known senders, messages/s", lambda r: f"{r['known_rate']:.0f}")
    row("  from unknown senders, messages/s", lambda r: f"{r['unknown_rate']:.0f}")
    row("ingest per message, ms (median / p99)", ms("ingest"))
    row("  known senders", ms("ingest_known"))
    row("  unknown senders", ms("ingest_unknown"))
    row("  CPU of this process per message, ms", lambda r: f"{r['cpu_ms']:.2f}")
    if all("floor" in r for r in results):
        row(
            "database work alone, messages/s",
            lambda r: f"{r['floor']:.0f}",
            "bare Core statements + HTML cleaning, a commit per message",
        )
        row("  committing every 50 messages", lambda r: f"{r['floor_batched']:.0f}")
        row(
            "ingest / database work alone (each)",
            lambda r: f"{r['rate'] / r['floor']:.2f}",
            f"one at a time; today {TODAY_ONE_RATIO:.2f}",
        )
        row(
            "batch ingest, messages/s",
            lambda r: f"{r['batch_rate']:.0f}",
            "ingest_many: a transaction and a flush per 50",
        )
        row(
            "batch / database work every 50",
            lambda r: f"{r['batch_rate'] / r['floor_batched']:.2f}",
            f">= {TARGET_BATCH_RATIO} (today {TODAY_ONE_RATIO:.2f}, one at a time vs each): "
            + verdict(
                results, lambda r: r["batch_rate"] / r["floor_batched"] >= TARGET_BATCH_RATIO
            ),
        )
    pg = [r for r in results if "workers" in r]
    for r in pg:
        one, two = r["workers"][1], r["workers"][2]
        print(
            f"{'PostgreSQL, 1 / 2 worker processes, msg/s':40}{one:>{width}.0f}{two:>{width}.0f}"
            f"   2 / 1 = {two / one:.2f}, target >= {TARGET_WORKERS}: "
            + ("met" if two / one >= TARGET_WORKERS else "MISSED")
        )
    row(
        "lookup by phone, ms (median / p99)",
        ms("phone"),
        f"p99 < {TARGET_P99_MS:g} ms: " + verdict(results, lambda r: r["phone"][1] < TARGET_P99_MS),
    )
    row(
        "lookup by email, ms (median / p99)",
        ms("email"),
        f"p99 < {TARGET_P99_MS:g} ms: " + verdict(results, lambda r: r["email"][1] < TARGET_P99_MS),
    )
    row("screen pop: lookup + card, ms", ms("pop"))
    row(f"load {args.customers:,} customers, s", lambda r: f"{r['load_s']:.1f}")


def main() -> None:
    """Parse the arguments, run each database, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--rounds", type=int, default=1, help="with --workers-only: how often")
    parser.add_argument(
        "--no-floor", dest="floor", action="store_false", help="skip the database-work-alone run"
    )
    parser.add_argument(
        "--workers-only",
        action="store_true",
        help="only the 1 against 2 PostgreSQL worker processes (--messages each)",
    )
    args = parser.parse_args()
    if args.workers_only:
        for _ in range(args.rounds):
            found = workers(args.customers, args.messages)
            print(
                f"PostgreSQL, 1 / 2 worker processes: {found[1]:.0f} / {found[2]:.0f} msg/s, "
                f"2 / 1 = {found[2] / found[1]:.2f} (target >= {TARGET_WORKERS}); a worker "
                f"process's CPU / wall: {found['cpu1']:.2f} alone, {found['cpu2']:.2f} of two; "
                f"waiting for a core / wall: {found['queued1']:.2f} alone, "
                f"{found['queued2']:.2f} of two; "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        return
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    report(
        [
            run(kind, args.customers, args.messages, args.lookups, args.keep, args.floor)
            for kind in kinds
        ],
        args,
    )


if __name__ == "__main__":
    main()
