"""Finding customers in a large CRM (helpdesk issue 16): full-text search, a filtered list
page with its total, a segment count, and the streamed export.

    .venv/bin/python bench/crm.py [--db sqlite|postgresql|both] [--customers N]
                                  [--samples N] [--name NAME] [--keep]

Loads N customers (default 1,000,000 on PostgreSQL, 200,000 on SQLite) with realistic
German and European names, addresses, tags, custom fields, consents, an email and a
phone identity each, an order for one in four and a note for one in ten, in bulk
(PostgreSQL: COPY; SQLite: executemany in batches; the search triggers off during the
load, the index built once after it, as a restore or an import would). Then, through
the real API (``GET /api/v1/customers`` with an admin's token), it times:

- a full-text search (whole and half-typed names, an email, a phone number, a city and
  a name together): the first page of 50 and the total;
- a three-filter list page (country, tag, last contact in the past year, sorted by
  last contact) with its total;
- a segment count (``GET /segments/ID/customers``: its first page and ``count``);

and exports about 100,000 customers as CSV (``GET /customers/export``), reading the
stream as a client does, in a fresh process each (so the peak RSS is the export's):
once for a tenth of them and once for all, to show that memory does not grow with the
row count. Targets: search and list p99 under 150 ms on PostgreSQL with 1,000,000
customers; export at least 20,000 rows/s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    PG_BASE,
    ROOT,
    after_bulk_load,
    bench_app,
    database_url,
    drop_database,
    summary,
)

FIRST = (
    "Jürgen Anna Peter Lea Jonas Sophie Lukas Marie Felix Emma Paul Mia Max Hannah Ben "
    "Zoë Björn Sören Günther Renée François Chloé Łukasz Ole Ingrid Mehmet Aylin Tobias"
).split()
LAST = (
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
    "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger "
    "Hofmann Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze "
    "Maier Köhler Herrmann König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz "
    "Möller Weiß Jung Hahn Schubert Vogel Friedrich Keller Günther Frank Berger Winkler "
    "Roth Beck Lorenz Baumann Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus "
    "Martin Schumacher Krämer Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt "
    "Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn Pohl Engel Horn Busch Bergmann "
    "Thomas Voigt Sauer Arnold Wolff Pfeiffer Dupont Ørsted Nowak Yılmaz Andersson"
).split()
CITIES = (
    ("Berlin", "DE", "10115"), ("Hamburg", "DE", "20095"), ("München", "DE", "80331"),
    ("Köln", "DE", "50667"), ("Frankfurt am Main", "DE", "60311"), ("Stuttgart", "DE", "70173"),
    ("Düsseldorf", "DE", "40213"), ("Leipzig", "DE", "04109"), ("Dresden", "DE", "01067"),
    ("Nürnberg", "DE", "90402"), ("Wien", "AT", "1010"), ("Graz", "AT", "8010"),
    ("Zürich", "CH", "8001"), ("Basel", "CH", "4001"), ("Paris", "FR", "75001"),
    ("Lyon", "FR", "69001"), ("København", "DK", "1050"), ("Amsterdam", "NL", "1011"),
    ("Warszawa", "PL", "00-001"), ("Praha", "CZ", "11000"),
)  # fmt: skip
STREETS = "Hauptstraße Bahnhofstraße Gartenweg Schillerstraße Goethestraße Lindenallee".split()
TAGS = ("vip", "b2b", "newsletter", "wholesale", "churn-risk")
PLANS = ("free", "basic", "pro", "enterprise")
ORGANIZATIONS = 2_000
AGENTS = 20
BATCH = 10_000
LIST_QUERY = "country=DE&tag=vip&last_contact_after=365d&sort=-last_contact_at"
SEGMENT = {"consent": "email_marketing", "language": "de"}
TARGET_P99_MS = 150
TARGET_ROWS_PER_S = 20_000
FAST_HASH = "pbkdf2:sha256:1000"  # the bench's agents never log in
MIGRATION = ROOT / "helpdesk" / "migrations" / "versions" / "h16c0001_customer_search.py"


def person(n: int, count: int = 0) -> dict:
    """Bulk customer ``n`` (1-based) of ``count``, deterministic."""
    rng = random.Random(n)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, country, postcode = CITIES[n % len(CITIES)] if n % 5 else CITIES[0]
    tags = [t for t in TAGS if rng.random() < 0.08]
    every = max(1, count // 100_000)  # the big export: 100,000 customers (all of fewer)
    if n % every == 0:
        tags.append("export-big")
    if n % (every * 10) == 0:
        tags.append("export-small")  # a tenth of them
    return {
        "id": n,
        "name": f"{first} {last}",
        "first": first,
        "last": last,
        "organization_id": (n % ORGANIZATIONS) + 1 if n % 3 else None,
        "account_manager_id": (n % AGENTS) + 1 if n % 7 == 0 else None,
        "language": {"DE": "de", "AT": "de", "CH": "de", "FR": "fr"}.get(country, "en"),
        "street": f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
        "postcode": postcode,
        "city": city,
        "country": country,
        "tags": tags,
        "custom_fields": {"plan": rng.choice(PLANS), "customer_number": f"K-{n}"},
        "days_created": rng.randint(1, 1500),
        "days_contact": rng.randint(0, 900) if n % 10 else None,
        "email_marketing": rng.random() < 0.3,
        "note": n % 10 == 0,
    }


def email_of(p: dict) -> str:
    """A person's email address (unique by id)."""
    return f"{p['first']}.{p['last']}.{p['id']}@mail.example".lower()


def phone_of(n: int) -> str:
    """Bulk customer ``n``'s E.164 number."""
    return f"+49151{n:08d}" if n % 2 else f"+4930{n:08d}"


def _migration():
    """The full-text migration's module (its SQLite document and triggers)."""
    spec = importlib.util.spec_from_file_location("h16c0001", MIGRATION)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def rows(start: int, stop: int, count: int, now) -> dict[str, list[dict]]:
    """The rows of customers ``start`` to ``stop - 1``, by table."""
    out: dict[str, list[dict]] = {"customers": [], "identities": [], "consents": [],
                                  "orders": [], "notes": []}  # fmt: skip
    for n in range(start, stop):
        p = person(n, count)
        out["customers"].append(
            {
                "id": n,
                "name": p["name"],
                "organization_id": p["organization_id"],
                "account_manager_id": p["account_manager_id"],
                "language": p["language"],
                "street": p["street"],
                "postcode": p["postcode"],
                "city": p["city"],
                "country": p["country"],
                "tags": p["tags"],
                "custom_fields": p["custom_fields"],
                "key_person": False,
                "created_at": now - timedelta(days=p["days_created"]),
                "updated_at": now,
                "last_contact_at": None
                if p["days_contact"] is None
                else now - timedelta(days=p["days_contact"]),
            }
        )
        out["identities"] += [
            {"customer_id": n, "kind": "email", "value": email_of(p), "created_at": now},
            {"customer_id": n, "kind": "phone", "value": phone_of(n), "created_at": now},
        ]
        out["consents"].append(
            {
                "customer_id": n,
                "purpose": "email_marketing",
                "granted": p["email_marketing"],
                "at": now,
                "source": "bench",
            }  # fmt: skip
        )
        if n % 4 == 0:
            out["orders"].append(
                {
                    "id": n,
                    "number": f"B{n:08d}",
                    "customer_id": n,
                    "status": "shipped",
                    "currency": "EUR",
                    "ordered_at": now,
                    "updated_at": now,
                }  # fmt: skip
            )
        if p["note"]:
            out["notes"].append(
                {
                    "customer_id": n,
                    "body": "Prefers a call in the morning; asked about invoices",
                    "created_at": now,
                }  # fmt: skip
            )
    return out


def _copy(conn, table: str, items: list[dict]) -> None:
    """PostgreSQL COPY of ``items`` (dicts with one set of keys) into ``table``."""
    if not items:
        return
    columns = list(items[0])
    with conn.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for item in items:
                copy.write_row(
                    [json.dumps(v) if isinstance(v, list | dict) else v for v in item.values()]
                )


def load(count: int) -> float:
    """Bulk-load ``count`` customers with their identities, consents, orders and notes,
    the organizations and account managers; build the search index; return seconds."""
    from helpdesk.agents import services
    from helpdesk.customers.models import Consent, Customer, Identity, Note, Order, Organization
    from helpdesk.db import utcnow
    from helpdesk.extensions import db

    started = time.perf_counter()
    now = utcnow()
    postgres = db.engine.dialect.name == "postgresql"
    migration = _migration()
    for i in range(1, AGENTS + 1):  # ids 1..AGENTS on the fresh database
        services.create_agent(f"am{i}@bench.example", f"Manager {i}", "agent", [], "x" * 12)
    db.session.commit()
    db.session.execute(
        insert(Organization),
        [
            {
                "id": i,
                "name": f"{random.Random(i).choice(LAST)} {('GmbH', 'AG', 'KG')[i % 3]}",
                "account_manager_id": (i % AGENTS) + 1,
                "custom_fields": {},
                "created_at": now,
            }
            for i in range(1, ORGANIZATIONS + 1)
        ],  # fmt: skip
    )
    if postgres:
        db.session.execute(text("SET session_replication_role = replica"))  # no triggers
        db.session.execute(text("DROP INDEX ix_customers_search"))
        conn = db.session.connection().connection.dbapi_connection
    else:
        for name in migration.SQLITE_TRIGGER_NAMES:
            db.session.execute(text(f"DROP TRIGGER {name}"))
    models = {"customers": Customer, "identities": Identity, "consents": Consent,
              "orders": Order, "notes": Note}  # fmt: skip
    for start in range(1, count + 1, BATCH):
        batch = rows(start, min(start + BATCH, count + 1), count, now)
        for table, items in batch.items():
            if postgres:
                _copy(conn, table, items)
            elif items:
                db.session.execute(insert(models[table]), items)
        if not postgres:
            db.session.commit()
    if postgres:
        db.session.execute(text("SET session_replication_role = DEFAULT"))
        db.session.execute(text(migration.PG_REBUILD))
        db.session.execute(
            text("CREATE INDEX ix_customers_search ON customers USING gin (search_vector)")
        )
    else:
        db.session.execute(text(migration.SQLITE_DOCUMENT.format(where="1 = 1")))
        for statement in migration.sqlite_triggers():
            db.session.execute(text(statement))
    db.session.commit()
    after_bulk_load("agents", "customers", "organizations", "orders")
    if postgres:  # the rebuild left a dead version of every row, and the bulk insert of
        # millions of rows would start autovacuum on every table during the timing: vacuum
        # them first, as autovacuum would have by the time anyone searches
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - started


def queries(count: int) -> list[str]:
    """Search queries of each kind, for customers that exist."""
    rng = random.Random(7)
    out = []
    for _ in range(40):
        p = person(rng.randint(1, count))
        out += [
            f"q={p['last']}",
            f"q={p['last'][:4]}",
            f"q={email_of(p)}",
            f"q={phone_of(p['id'])}",
            f"q={p['city']} {p['first']}",
        ]
    return out


def timed(client, headers, urls: list[str], key: str) -> list[float]:
    """Seconds per GET of each URL (each answering 200 with ``key``)."""
    seconds = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.json)
        assert key in response.json
    return seconds


def export_run(url: str, tag: str) -> None:
    """(A fresh process.) Export the customers tagged ``tag`` through the API as CSV; print
    rows, seconds and the peak RSS as JSON."""
    with bench_app(url, PASSWORD_HASH_METHOD=FAST_HASH) as app:
        from helpdesk.agents.models import Agent, ApiToken
        from helpdesk.extensions import db

        admin = db.session.execute(text("SELECT id FROM agents WHERE role = 'admin'")).scalar_one()
        row, token = ApiToken.issue(db.session.get(Agent, admin), "api")
        db.session.add(row)
        db.session.commit()
        client = app.test_client()
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get(
            f"/api/v1/customers/export?tag={tag}&format=csv",
            headers={"Authorization": f"Bearer {token}"},
            buffered=False,
        )
        lines = 0
        for chunk in response.response:
            lines += (chunk if isinstance(chunk, bytes) else chunk.encode()).count(b"\n")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"rows": lines - 1, "seconds": seconds, "cpu": cpu, "peak_mb": peak}))


def export(url: str, tag: str) -> dict:
    """Run ``export_run`` in a process of its own; its figures."""
    done = subprocess.run(
        [sys.executable, __file__, "--export-run", url, "--tag", tag],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def reused_url(kind: str, name: str) -> str:
    """The URL of a database an earlier ``--keep`` run left."""
    if kind == "sqlite":
        return f"sqlite:///{ROOT / 'bench' / 'results' / f'{name}_{kind}.db'}"
    return f"postgresql+psycopg://{PG_BASE.split('://', 1)[1]}/{name}_{kind}"


def _load() -> str:
    """The machine's load average (1, 5, 15 minutes): figures of a busy machine are slow."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def run(kind: str, count: int, samples: int, name: str, keep: bool, reuse: bool) -> None:
    """Load (unless ``reuse``), time and print the figures of one database."""
    url = database_url(kind, f"{name}_{kind}") if not reuse else reused_url(kind, name)
    try:
        with bench_app(url, PASSWORD_HASH_METHOD=FAST_HASH) as app:
            from helpdesk.agents import services
            from helpdesk.agents.models import Agent, ApiToken
            from helpdesk.extensions import db

            if reuse:
                admin = db.session.scalars(select(Agent).where(Agent.role == "admin")).one()
            else:
                seconds = load(count)
                print(f"{kind}: loaded {count:,} customers in {seconds:.1f} s "
                      f"({count / seconds:,.0f}/s)", flush=True)  # fmt: skip
                admin, _ = services.create_agent(
                    "admin@bench.example", "Admin", "admin", [], "x" * 12
                )
                db.session.commit()
            row, token = ApiToken.issue(admin, "api")
            db.session.add(row)
            db.session.commit()
            headers = {"Authorization": f"Bearer {token}"}
            client = app.test_client()
            segment = client.post(
                "/api/v1/segments", json={"name": "bench", "filter": SEGMENT}, headers=headers
            ).json["id"]
            db.session.commit()
            search_urls = [f"/api/v1/customers?{q}" for q in queries(count)]
            timed(client, headers, search_urls[:10], "total")  # warm the caches
            from helpdesk.web.serving import settle_heap

            settle_heap()  # as `helpdesk serve` does before it serves
            figures = {
                "search": timed(client, headers, (search_urls * 3)[:samples], "total"),
                "list (3 filters + total)": timed(
                    client, headers, [f"/api/v1/customers?{LIST_QUERY}"] * samples, "total"
                ),
                "segment count": timed(
                    client, headers, [f"/api/v1/segments/{segment}/customers"] * samples, "count"
                ),
            }
            for what, samples_ in figures.items():
                median, p99 = summary(samples_)
                mark = "" if kind != "postgresql" or what == "segment count" else (
                    "  ok" if p99 < TARGET_P99_MS else f"  MISSED (target p99 < {TARGET_P99_MS} ms)"
                )  # fmt: skip
                print(f"{kind}: {what:<26} median {median:7.1f} ms  p99 {p99:7.1f} ms{mark}"
                      f"  (load {_load()})")  # fmt: skip
            db.session.remove()
        for tag in ("export-small", "export-big"):
            result = export(url, tag)
            rate = result["rows"] / result["seconds"]
            mark = "ok" if rate >= TARGET_ROWS_PER_S else f"MISSED (target {TARGET_ROWS_PER_S:,}/s)"
            print(f"{kind}: export {result['rows']:>9,} rows as CSV in {result['seconds']:6.1f} s "
                  f"= {rate:>9,.0f} rows/s {mark}; peak RSS {result['peak_mb']:.0f} MB; "
                  f"the app's CPU {result['cpu']:.1f} s (load {_load()})", flush=True)  # fmt: skip
    finally:
        if not keep:
            drop_database(url)


def main() -> None:
    """Parse the arguments, run each database."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--customers", type=int, help="default: 1,000,000 / 200,000 (SQLite)")
    parser.add_argument("--samples", type=int, default=200, help="requests timed per figure")
    parser.add_argument("--name", default="helpdesk_bench_crm", help="the databases' name")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument(
        "--reuse", action="store_true", help="time the databases a --keep run left, unloaded"
    )
    parser.add_argument("--export-run", help=argparse.SUPPRESS)
    parser.add_argument("--tag", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_run:
        export_run(args.export_run, args.tag)
        return
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        count = args.customers or (1_000_000 if kind == "postgresql" else 200_000)
        run(kind, count, args.samples, args.name, args.keep or args.reuse, args.reuse)


if __name__ == "__main__":
    os.environ.setdefault("HELPDESK_LOG_FORMAT", "text")
    main()
