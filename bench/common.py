"""What the benchmarks share: a throw-away database, a bulk-loaded CRM, percentiles.

    from bench.common import bench_app, database_url, load_customers, summary

    with bench_app(database_url("sqlite", "bench_mine")):   # schema built by the migrations
        load_customers(100_000)                               # Core executemany, in batches
        ...
        print("median %.2f ms, p99 %.2f ms" % summary(seconds))

Bulk customer ``n`` (1-based) is deterministic, so a benchmark can address it
without a query: ``email_of(n)``, ``phone_of(n)``, ``organization_of(n)``.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"  # git-ignored
PG_BASE = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1")
# Put before every benchmark database's name (and SQLite file's): two people benching on
# one server each keep to their own names.
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "")
ORGANIZATIONS = 200


def process_cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8]) / os.sysconf("SC_CLK_TCK")
    idle = (values[3] + values[4]) / os.sysconf("SC_CLK_TCK")
    return total - idle, total


def database_url(kind: str, name: str) -> str:
    """A fresh, empty database for one benchmark: a SQLite file or a PostgreSQL database
    (``name`` after ``BENCH_DB_PREFIX``)."""
    name = DB_PREFIX + name
    if kind == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{PG_BASE.split('://', 1)[1]}/{name}"


def drop_database(url: str) -> None:
    """Remove what ``database_url`` made once the figures are printed."""
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_app(url: str, **config):
    """An app on ``url`` (Redis unset: jobs and emits in-process), migrated, context pushed."""
    from flask_migrate import upgrade

    from helpdesk import create_app
    from helpdesk.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": None,
            "ATTACHMENT_DIR": f"/tmp/bench-attachments-{os.getpid()}",
            **config,
        }
    )
    with app.app_context():
        logging.disable(logging.INFO)  # the migration's INFO lines, as alembic.ini sets them
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
        # Keep the figures free of per-message INFO lines (a new customer logs one).
        logging.getLogger("helpdesk").setLevel(logging.WARNING)
        yield app
        db.session.remove()
        db.engine.dispose()


def organization_of(n: int) -> int | None:
    """The organization of bulk customer ``n``: two customers in three have one."""
    return (n % ORGANIZATIONS) + 1 if n % 3 else None


def email_of(n: int) -> str:
    """The (normalised) email address of bulk customer ``n``: at the employer's domain, if any."""
    org = organization_of(n)
    return f"person{n}@org{org}.example" if org else f"customer{n}@mail.example"


def phone_of(n: int) -> str:
    """The E.164 number of bulk customer ``n``: a German mobile or a Berlin landline."""
    return f"+49151{n:08d}" if n % 2 else f"+4930{n:08d}"


def load_customers(count: int, orders_every: int = 4, batch: int = 5_000) -> float:
    """Insert ``count`` customers (an email and a phone identity each), 200 organizations
    with a domain each, and an order for every ``orders_every``-th customer; return seconds."""
    from helpdesk.customers.models import (
        Customer,
        Identity,
        Order,
        OrderLine,
        Organization,
        OrganizationDomain,
    )
    from helpdesk.db import utcnow
    from helpdesk.extensions import db

    started = time.perf_counter()
    now = utcnow()
    rng = random.Random(1)
    db.session.execute(
        insert(Organization),
        [{"id": i, "name": f"Org {i}", "created_at": now} for i in range(1, ORGANIZATIONS + 1)],
    )
    db.session.execute(
        insert(OrganizationDomain),
        [{"organization_id": i, "domain": f"org{i}.example"} for i in range(1, ORGANIZATIONS + 1)],
    )
    for start in range(1, count + 1, batch):
        ids = range(start, min(start + batch, count + 1))
        db.session.execute(
            insert(Customer),
            [
                {
                    "id": n,
                    "name": f"Customer {n}",
                    "organization_id": organization_of(n),
                    "tags": [],
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
                row
                for n in ids
                for row in (
                    {"customer_id": n, "kind": "email", "value": email_of(n), "created_at": now},
                    {"customer_id": n, "kind": "phone", "value": phone_of(n), "created_at": now},
                )
            ],
        )
        buyers = [n for n in ids if n % orders_every == 0]
        db.session.execute(
            insert(Order),
            [
                {
                    "id": n,
                    "number": f"B{n:08d}",
                    "customer_id": n,
                    "status": "shipped",
                    "total": Decimal(rng.randint(500, 50_000)) / 100,
                    "currency": "EUR",
                    "ordered_at": now,
                    "updated_at": now,
                }
                for n in buyers
            ],
        )
        db.session.execute(
            insert(OrderLine),
            [
                {
                    "order_id": n,
                    "sku": f"SKU-{n % 997}",
                    "name": "Widget",
                    "quantity": 1,
                    "unit_price": Decimal("9.99"),
                }
                for n in buyers
            ],
        )
        db.session.commit()
    after_bulk_load("customers", "organizations", "orders")
    return time.perf_counter() - started


def after_bulk_load(*tables: str) -> None:
    """PostgreSQL: rows were inserted with explicit ids, so move the tables' sequences past
    them; and take fresh planner statistics, as autovacuum would have them after a bulk
    load (SQLite has none unless someone runs ANALYZE: leave it as production has it)."""
    from helpdesk.extensions import db

    if db.engine.dialect.name != "postgresql":
        return
    for table in tables:
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        )
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def stop(process: subprocess.Popen | None) -> None:
    """Terminate a server or worker process started by a bench (kill it if it lingers)."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and p99 of ``samples`` (seconds), in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


_GIVEN: set[int] = set()


def free_port() -> int:
    """A free loopback port: in ``BENCH_PORTS`` (e.g. ``5700-5799``) when set, else any."""
    low, _, high = os.environ.get("BENCH_PORTS", "").partition("-")
    candidates = range(int(low), int(high) + 1) if low and high else [0]
    for candidate in candidates:
        if candidate in _GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port = sock.getsockname()[1]
            _GIVEN.add(port)
            return port
    raise RuntimeError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def serve(env: dict, port: int, log: Path, *options: str) -> subprocess.Popen:
    """Start `helpdesk serve --port PORT [OPTIONS]` with ``env``; wait until /healthz
    answers."""
    import requests

    process = subprocess.Popen(
        [sys.executable, "-m", "helpdesk", "serve", "--port", str(port), *options],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    for _ in range(300):
        if process.poll() is not None:
            break
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not start; see {log}")
