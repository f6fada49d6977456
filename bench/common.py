"""What the benchmarks share: a throw-away database, bulk-loaded customers, percentiles."""
from __future__ import annotations

import os
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
PG_BASE = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1")


def database_url(kind: str, name: str) -> str:
    """A fresh database for one benchmark: a SQLite file, or a recreated PostgreSQL database."""
    if kind == "sqlite":
        path = Path("/tmp") / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{PG_BASE.split('://', 1)[1]}/{name}"


@contextmanager
def bench_app(url: str, **config):
    """An app on ``url`` with the schema built through the migrations; context pushed."""
    import logging

    from flask_migrate import upgrade

    from helpdesk import create_app
    from helpdesk.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None,
                      "ATTACHMENT_DIR": f"/tmp/bench-attachments-{os.getpid()}", **config})
    with app.app_context():
        upgrade()
        logging.getLogger().setLevel(logging.WARNING)
        yield app
        db.session.remove()
        db.engine.dispose()


def phone_of(n: int) -> str:
    """The E.164 number of bulk customer ``n`` (a German mobile number)."""
    return f"+49151{n:08d}"


def email_of(n: int) -> str:
    """The email address of bulk customer ``n``."""
    return f"customer{n}@shop.example"


def load_customers(count: int, batch: int = 10_000) -> float:
    """Insert ``count`` customers with an email and a phone identity each; return seconds."""
    from helpdesk.customers.models import Customer, Identity, Organization
    from helpdesk.extensions import db
    from helpdesk.models_base import utcnow

    started = time.perf_counter()
    now = utcnow()
    db.session.execute(insert(Organization), [{"id": i, "name": f"Org {i}", "created_at": now}
                                              for i in range(1, 201)])
    for start in range(1, count + 1, batch):
        ids = range(start, min(start + batch, count + 1))
        db.session.execute(insert(Customer), [
            {"id": n, "name": f"Customer {n}", "organization_id": (n % 200) + 1 if n % 3 else None,
             "tags": [], "custom_fields": {}, "created_at": now, "updated_at": now,
             "key_person": False, "order_updates": False, "sms_opt_out": False} for n in ids])
        db.session.execute(insert(Identity), [
            row for n in ids for row in (
                {"customer_id": n, "kind": "email", "value": email_of(n), "created_at": now},
                {"customer_id": n, "kind": "phone", "value": phone_of(n), "created_at": now})])
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy import text

        db.session.execute(text("SELECT setval('customers_id_seq', (SELECT max(id) FROM customers))"))
        db.session.execute(text("SELECT setval('organizations_id_seq', 200)"))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and p99 of ``samples`` (seconds) in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000
