"""Benchmark: mail in a real Dovecot -> tickets, through the real poll path.

Delivers N messages of realistic size (plain text, text + HTML, a share with
attachments) into a throw-away Dovecot, polls them into a fresh database and
prints messages per second with the time spent in the IMAP fetch, parsing,
HTML cleaning and the database, reading in the polling process
(``HELPDESK_MAIL_READ_PROCESSES=0``); then, in the same run, the rate of parsing and
cleaning alone (one process, no IMAP, no database), the same kind of mail polled with
``--read-processes`` worker processes reading each fetch batch while the poll writes the
one before (``channels/email/reader.py``; it starts for polls of at least 400 mails,
so give ``--messages`` 400 or more), each with the CPU seconds of the polling
process, the readers and the PostgreSQL server processes of the bench database; the same
kind of mail ingested one message per transaction (``HELPDESK_INGEST_BATCH=1``, the path before
issue 20), and the rate of one worker process polling one mailbox against two polling
two mailboxes at once (N/2 mails each; process start-up not timed). The poll ingests
each fetch in batches (``tickets.ingest.batch``). Issue 20's targets: end to end at
least 0.7 of parsing and cleaning alone; two workers at least 1.6 times one.

    .venv/bin/python bench/email_ingest.py [--messages 2000] [--database-url URL]
                                           [--read-processes 1,2]

Needs Dovecot (apt-get install dovecot-imapd) and runs as root (Dovecot's own
processes drop to the `mail` user). SQLite by default; give a PostgreSQL URL
to measure that (the database named in it is dropped and created).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import process_cpu_seconds  # noqa: E402
from tests.fixtures.dovecot import Dovecot  # noqa: E402

WORDS = (
    "order parcel invoice delivery refund shipment tracking account password login "
    "address payment card warranty repair kettle printer laptop screen battery cable "
    "week yesterday today please could would thanks again still arrived broken missing "
    "number customer support help question answer status update change cancel"
).split()


TARGET_EMAIL = 0.7  # end to end against parsing and cleaning alone (issue 20)
TODAY_EMAIL = 0.34  # issue 20: 50 against 145 messages/s, one message per transaction
TARGET_WORKERS = 1.6  # two worker processes against one


def verdict(ok: bool) -> str:
    """'met' or 'MISSED'."""
    return "met" if ok else "MISSED"


def _sentence(rng: random.Random) -> str:
    """A sentence of plausible support-mail words."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
    return " ".join(words).capitalize() + "."


def _html(paragraphs: list[str], rng: random.Random) -> str:
    """HTML as mail programs write it: inline styles, a table, a quoted earlier mail."""
    rows = "".join(
        f'<tr><td style="padding:4px;color:#333">Item {n}</td>'
        f'<td style="text-align:right">{rng.randint(5, 500)}.00 EUR</td></tr>'
        for n in range(rng.randint(2, 8))
    )
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    quote = "".join(f"<p>{_sentence(rng)}</p>" for _ in range(rng.randint(2, 6)))
    return (
        "<html><head><style>p{margin:0}</style></head><body>"
        f'<div style="font-family:Arial;font-size:11pt">{body}<table>{rows}</table>'
        '<p>Best regards,<br>A customer</p><div class="gmail_quote"><blockquote '
        f'style="margin:0 0 0 .8ex;border-left:1px #ccc solid">{quote}</blockquote></div>'
        "</div></body></html>"
    )


def make_corpus(count: int, seed: int = 7, who: str = "customer") -> list[bytes]:
    """``count`` mails: 40% plain text, 45% text + HTML, 15% with an attachment (senders
    named ``who`` and a number)."""
    rng = random.Random(seed)
    mails = []
    for n in range(count):
        sender = f"{who}{rng.randint(1, max(1, count // 4))}@example{rng.randint(1, 20)}.com"
        paragraphs = [
            " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
            for _ in range(rng.randint(2, 5))
        ]
        mail = EmailMessage()
        mail["From"] = f"Customer {n} <{sender}>"
        mail["To"] = "support@example.com"
        mail["Subject"] = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {n}"
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = make_msgid(domain=f"mail{n % 7}.example.com")
        text = "Hello,\n\n" + "\n\n".join(paragraphs) + "\n\nThanks\n"
        mail.set_content(text + "\n> " + _sentence(rng) + "\n> " + _sentence(rng) + "\n")
        kind = rng.random()
        if kind >= 0.40:
            mail.add_alternative(_html(paragraphs, rng), subtype="html")
        if kind >= 0.85:
            size = rng.choice((20_000, 60_000, 150_000))
            mail.add_attachment(
                rng.randbytes(size), maintype="application", subtype="pdf", filename=f"scan-{n}.pdf"
            )
        mails.append(mail.as_bytes())
    return mails


def make_app(database_url: str, attachments: str):
    """A helpdesk app on ``database_url`` with the schema migrated."""
    from flask_migrate import upgrade

    from helpdesk import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": None,
            "ATTACHMENT_DIR": attachments,
            "SECRET_KEY": "bench",
        }
    )
    with app.app_context():
        upgrade()
    return app


def _database(url: str | None, root: Path) -> str:
    """The SQLAlchemy URL of a fresh database for this run."""
    if not url:
        return f"sqlite:///{root / 'bench.db'}"
    import psycopg

    base, _, name = url.split("://", 1)[1].rpartition("/")
    with psycopg.connect(f"postgresql://{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{base}/{name}"


def deliver(server: Dovecot, mails: list[bytes], user: str = "support") -> None:
    """APPEND every mail to the user's INBOX."""
    client = server.client(user)
    for raw in mails:
        client.append("INBOX", raw)
    client.logout()


def add_mailbox(app, server: Dovecot, user: str) -> int:
    """Connect the user's INBOX as a mailbox; return its channel id."""
    from helpdesk.channels.email.mailboxes import add_mailbox as add
    from helpdesk.extensions import db

    with app.app_context():
        channel = add(user, server.url(user), "smtp://127.0.0.1:1", f"{user}@example.com")
        db.session.commit()
        return channel.id


def poll_fresh(app, server: Dovecot, user: str, mails: list[bytes]) -> tuple[float, dict]:
    """Deliver ``mails`` to ``user``, connect that mailbox and poll it to the end; check
    that every mail was stored; return the seconds and the stage timings."""
    deliver(server, mails, user)
    seconds, times, polled = timed_poll(app, add_mailbox(app, server, user))
    assert polled.stored == len(mails) and polled.error is None, polled.summary()
    return seconds, times


def timed_poll(app, channel_id: int) -> tuple[float, dict, object]:
    """Poll one mailbox to the end; return seconds, stage timings and the result."""
    import helpdesk.tickets.ingest.store as ingest_module
    from helpdesk.channels.email import imap as email_imap

    timings: dict[str, float] = {}
    clean = ingest_module.clean_html

    def timed_clean(raw):
        began = time.perf_counter()
        try:
            return clean(raw)
        finally:
            timings["clean"] = timings.get("clean", 0.0) + time.perf_counter() - began

    ingest_module.clean_html = timed_clean  # measure bleach apart from the other database work
    try:
        with app.app_context():
            backends = _backends(app)
            cpu = time.process_time(), _cpu(backends)
            began = time.perf_counter()
            result = email_imap.poll_mailbox(channel_id, timings=timings, budget=3600, batch=100)
            elapsed = time.perf_counter() - began
            timings["cpu_poll"] = time.process_time() - cpu[0]
            timings["cpu_database"] = _cpu(backends) - cpu[1]
    finally:
        ingest_module.clean_html = clean
    return elapsed, timings, result


def _backends(app) -> list[int]:
    """The PostgreSQL server processes of the app's connections (none on SQLite)."""
    from sqlalchemy import text

    from helpdesk.extensions import db

    if db.engine.dialect.name != "postgresql":
        return []
    name = db.engine.url.database
    with db.engine.connect() as conn:  # a pooled connection: the poll uses the same ones
        rows = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": name}
        )
        return [row[0] for row in rows]


def _cpu(pids: list[int]) -> float:
    """User + system CPU seconds of processes ``pids`` so far."""
    return sum(process_cpu_seconds(pid) for pid in pids)


def cpu_line(timings: dict, alone_cpu: float | None = None) -> str:
    """Where the CPU of a poll went, in seconds; with ``alone_cpu`` (parsing and cleaning
    alone), the ratios a machine with free cores would see: against all the CPU of the
    poll, and against the polling process's alone (its serial path when others read)."""
    poll, readers = timings.get("cpu_poll", 0.0), timings.get("read_workers", 0.0)
    server = timings.get("cpu_database", 0.0)
    line = (
        f"  CPU: polling process {poll:6.2f} s, readers {readers:6.2f} s, PostgreSQL "
        f"server {server:6.2f} s"
    )
    if alone_cpu:
        line += (
            f"; parsing + cleaning alone / all of it {alone_cpu / (poll + readers + server):.2f}"
            f", / the polling process {alone_cpu / max(poll, 1e-9):.2f}"
        )
    return line


def parse_and_clean_alone(app, mails: list[bytes]) -> tuple[float, float]:
    """Seconds (wall, CPU) to parse and clean every mail with no IMAP and no database."""
    from helpdesk.channels.email.parse import parse
    from helpdesk.tickets.html import clean_html

    with app.app_context():
        began, cpu = time.perf_counter(), time.process_time()
        for raw in mails:
            clean_html(parse(raw).html)
        return time.perf_counter() - began, time.process_time() - cpu


def _quiet() -> None:
    """Keep the per-message INFO lines out of the figures."""
    import logging

    logging.disable(logging.INFO)


def _worker(database_url: str, attachments: str, channel_id: int, ready, go, queue) -> None:
    """A worker process: its own app, one mailbox polled to the end when told to."""
    from helpdesk import create_app

    _quiet()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": None,
            "ATTACHMENT_DIR": attachments,
            "SECRET_KEY": "bench",
        }
    )
    ready.put(channel_id)
    go.wait()
    began = time.time()
    _, _, result = timed_poll(app, channel_id)
    queue.put((began, time.time(), result.stored, result.error))


def worker_processes(url: str, attachments: str, channels: list[int]) -> tuple[int, float]:
    """Poll each mailbox in a process of its own, all at once; (mails stored, seconds from
    the first start to the last end, process start-up not counted)."""
    context = multiprocessing.get_context("spawn")
    ready, go, queue = context.Queue(), context.Event(), context.Queue()
    workers = [
        context.Process(target=_worker, args=(url, attachments, cid, ready, go, queue))
        for cid in channels
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=600)
    go.set()
    outcomes = [queue.get(timeout=1800) for _ in workers]
    for worker in workers:
        worker.join()
    assert not any(error for *_, error in outcomes), outcomes
    wall = max(end for _, end, *_ in outcomes) - min(start for start, *_ in outcomes)
    return sum(stored for _, _, stored, _ in outcomes), wall


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument(
        "--read-processes", default="1,2", help="pool sizes to measure besides in-process (0)"
    )
    args = parser.parse_args()
    args.read_processes = [int(n) for n in args.read_processes.split(",") if n.strip()]
    root = Path(tempfile.mkdtemp(prefix="hd-bench-"))
    readers = tuple(f"read{n}" for n in args.read_processes)
    server = Dovecot(users=("support", "single", "solo", "sales", "billing", *readers)).start()
    try:
        url = _database(args.database_url, root)
        app = make_app(url, str(root / "attachments"))
        _quiet()
        mails = make_corpus(args.messages)
        size = sum(len(m) for m in mails)
        print(
            f"{len(mails)} messages, {size / len(mails) / 1024:.1f} KiB on average "
            f"({size / 2**20:.1f} MiB), database {url.split(':', 1)[0]}"
        )
        deliver(server, mails)
        app.config["MAIL_READ_PROCESSES"] = 0
        elapsed, timings, result = timed_poll(app, add_mailbox(app, server, "support"))
        assert result.stored == len(mails) and result.error is None, result.summary()
        rate = len(mails) / elapsed
        db_time = timings.get("ingest", 0.0) - timings.get("clean", 0.0)
        print(
            f"end to end, batch ingest, read in-process (HELPDESK_MAIL_READ_PROCESSES=0, "
            f"before): {elapsed:.2f} s, {rate:.0f} messages/s"
        )
        for label, seconds in (
            ("IMAP fetch", timings.get("fetch", 0.0)),
            ("IMAP mark seen", timings.get("mark", 0.0)),
            ("parsing", timings.get("parse", 0.0)),
            ("HTML cleaning", timings.get("clean", 0.0)),
            ("database (ingest less cleaning)", db_time),
        ):
            print(f"  {label:32s} {seconds:7.2f} s  {seconds / len(mails) * 1000:6.2f} ms/msg")
        alone, alone_cpu = parse_and_clean_alone(app, mails)
        print(cpu_line(timings, alone_cpu))
        limit = len(mails) / alone
        print(
            f"parsing + cleaning alone: {alone:.2f} s ({alone_cpu:.2f} s of CPU), "
            f"{limit:.0f} messages/s (the limit)"
        )
        print(
            f"  end to end / parsing + cleaning alone, read in-process: {rate / limit:.2f} "
            f"(target >= {TARGET_EMAIL}: {verdict(rate / limit >= TARGET_EMAIL)})"
        )
        # The same kind of mail (another corpus each: nothing is a duplicate) read in a
        # pool of worker processes while the poll writes the batch before.
        for processes in args.read_processes:
            user = f"read{processes}"
            batch = make_corpus(args.messages, seed=23 + processes, who=user)
            app.config["MAIL_READ_PROCESSES"] = processes
            seconds, times = poll_fresh(app, server, user, batch)
            pooled = len(batch) / seconds
            print(
                f"end to end, batch ingest, read in {processes} worker process(es): "
                f"{seconds:.2f} s, {pooled:.0f} messages/s; / parsing + cleaning alone "
                f"{pooled / limit:.2f} (target >= {TARGET_EMAIL}: "
                f"{verdict(pooled / limit >= TARGET_EMAIL)}); {pooled / rate:.2f}x in-process"
            )
            print(
                f"  the poll waiting for the readers {times.get('read_wait', 0.0):6.2f} s, "
                f"database {times.get('ingest', 0.0):6.2f} s, IMAP {times.get('fetch', 0.0):6.2f} s"
            )
            print(cpu_line(times, alone_cpu))
        app.config["MAIL_READ_PROCESSES"] = 0
        # Today's path in the same run: the same kind of mail, ingested one at a time.
        single = make_corpus(args.messages, seed=13, who="single")
        app.config["INGEST_BATCH"] = 1
        one_elapsed, _ = poll_fresh(app, server, "single", single)
        app.config["INGEST_BATCH"] = 50
        one_rate = len(single) / one_elapsed
        print(
            f"end to end, one message per transaction, read in-process (before issue 20): "
            f"{one_rate:.0f} messages/s; / parsing + cleaning alone {one_rate / limit:.2f} in "
            f"this run, {TODAY_EMAIL:.2f} in issue 20"
        )
        # Worker processes, each polling a mailbox of its own into the same database:
        # one process with N/2 mails, then two with N/2 each.
        attachments = str(root / "attachments")
        solo = make_corpus(args.messages // 2, seed=17, who="solo")
        deliver(server, solo, "solo")
        stored1, wall1 = worker_processes(url, attachments, [add_mailbox(app, server, "solo")])
        assert stored1 == len(solo), stored1
        half = make_corpus(args.messages // 2, seed=11, who="sales")
        half += make_corpus(args.messages // 2, seed=19, who="billing")
        deliver(server, half[: len(half) // 2], "sales")
        deliver(server, half[len(half) // 2 :], "billing")
        channels = [add_mailbox(app, server, user) for user in ("sales", "billing")]
        stored2, wall2 = worker_processes(url, attachments, channels)
        assert stored2 == len(half), stored2
        one_worker, two_workers = stored1 / wall1, stored2 / wall2
        ratio = two_workers / one_worker
        print(
            f"worker processes (a mailbox each): one {one_worker:.0f} messages/s, "
            f"two {two_workers:.0f} messages/s: 2 / 1 = {ratio:.2f} "
            f"(target >= {TARGET_WORKERS}: {verdict(ratio >= TARGET_WORKERS)})"
        )
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
