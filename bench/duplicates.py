"""The duplicate finder (``duplicates.finder.find``) over a bulk-loaded CRM.

    .venv/bin/python bench/duplicates.py [--database sqlite|postgresql|both] [--customers 100000]
                                         [--runs 3] [--keep]

A throw-away database (bench/common.py: ``--customers`` customers with an email and a
phone identity each, two in three in one of 200 organizations writing from its domain,
the rest from free-mail providers) gets realistic names (first and last names drawn from
short lists, so some people of one organization share a name by chance) and, every
1,000th customer, a planted twin: a Gmail address written with dots and a ``+tag`` and
the same name. Printed: the live finder (``finder.live``, what every request of the page
and the API ran before issue 16) ``--runs`` times as an admin (median, max), its pairs
per reason and the planted twins found; the refresh of the stored pairs
(``candidates.refresh``) on an empty table and again with nothing changed; then the
first page of ``GET /api/v1/customers/duplicates`` and of ``/customers/duplicates``
(median, max of ``--runs`` requests), which read the stored pairs.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, update  # noqa: E402

from bench.common import bench_app, database_url, drop_database, load_customers  # noqa: E402

FIRST = (
    "Anna Ben Clara David Emma Felix Greta Hannah Ida Jonas Karl Lena Max Nina Otto Paul Rita "
    "Sara Tim Ute Vera Willi Yusuf Zoe Alex Bernd Carla Dieter Elif Frank Gabi Heinz Ines Jan "
    "Kai Lars Mia Nils Olga Peter Rosa Sven Tina Uwe Wolfgang Lukas Marie Sophie Leon Mehmet"
).split()
# Surnames from syllables: a few thousand, as in a real customer base.
STARTS = "Ber Hof Kra Lin Mei Neu Ro Schw Sta Wal Zim Fri Gro Hei Kel Lo Mar Pe Rei Tho".split()
MIDDLES = ["", "ten", "ge", "ling", "del", "ner", "ro", "sen", "ba", "ke"]
ENDS = "mann er el ke ow ski berg feld hagen horst rich stein thal".split()
LAST = [s + m + e for s in STARTS for m in MIDDLES for e in ENDS]
PASSWORD = "bench-password"


def plant(customers: int) -> int:
    """Realistic names, and a Gmail twin for every 1,000th customer; how many twins."""
    from helpdesk.agents.models import Agent
    from helpdesk.customers.models import Customer, Identity
    from helpdesk.db import utcnow
    from helpdesk.extensions import db

    rng = random.Random(7)
    for start in range(1, customers + 1, 5000):
        db.session.execute(
            update(Customer),
            [
                {"id": n, "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}"}
                for n in range(start, min(start + 5000, customers + 1))
            ],
        )
    # Customers of no organization write from free-mail providers, as people do.
    free = ("gmx.de", "web.de", "t-online.de", "outlook.com")
    for start in range(1, customers + 1, 5000):
        rows = db.session.execute(
            select(Identity.id, Identity.value).where(
                Identity.kind == "email",
                Identity.value.like("%@mail.example"),
                Identity.customer_id.between(start, start + 4999),
            )
        ).all()
        if rows:
            db.session.execute(
                update(Identity),
                [
                    {"id": i, "value": value.replace("mail.example", free[i % len(free)])}
                    for i, value in rows
                ],
            )
    twins = list(range(1000, customers + 1, 1000))
    now = utcnow()
    for n in twins:
        original = db.session.get(Customer, n)
        db.session.add(Identity(customer_id=n, kind="email", value=f"p.erson{n}@gmail.com"))
        twin = Customer(name=original.name, tags=[], custom_fields={}, created_at=now)
        db.session.add(twin)
        db.session.flush()
        db.session.execute(
            insert(Identity).values(
                customer_id=twin.id, kind="email", value=f"person{n}+shop@googlemail.com"
            )
        )
    db.session.add(Agent(email="bench-admin@example.com", name="Admin", role="admin"))
    db.session.commit()
    return len(twins)


def _login(app, email: str, password: str):
    """A test client logged in through the real login form."""
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf}
    )
    assert response.status_code == 302, response.status_code
    return client


def _timed(get, url: str, runs: int, **kwargs) -> list[float]:
    """Seconds of ``runs`` GETs of ``url`` (each answering 200)."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        response = get(url, **kwargs)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return seconds


def _requests(app, token: str, runs: int) -> dict[str, list[float]]:
    """The API's first page and the screen's first page, each ``runs`` times, with no
    app context pushed (each request has its own, as in production)."""
    api = app.test_client()
    page = _login(app, "bench-admin@example.com", PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    return {
        "api": _timed(api.get, "/api/v1/customers/duplicates", runs, headers=headers),
        "page": _timed(page.get, "/customers/duplicates", runs),
    }


def _median(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds):.3f} s, max {max(seconds):.3f} s"


def run(kind: str, customers: int, runs: int, keep: bool) -> None:
    from helpdesk.agents.models import Agent, ApiToken
    from helpdesk.duplicates import finder
    from helpdesk.extensions import db

    try:  # the stored pairs (issue 16); absent from older code, measured as it was
        from helpdesk.duplicates import candidates
    except ImportError:
        candidates = None  # type: ignore[assignment]
    live = getattr(finder, "live", None) or finder.find

    url = database_url(kind, "hd_bench_duplicates")
    try:
        with bench_app(url, PASSWORD_HASH_METHOD="pbkdf2:sha256:1000") as app:
            load_customers(customers)
            twins = plant(customers)
            admin = db.session.execute(select(Agent).where(Agent.role == "admin")).scalar_one()
            admin.set_password(PASSWORD)
            row, token = ApiToken.issue(admin, "api")
            db.session.add(row)
            db.session.commit()
            seconds, pairs = [], []
            for _ in range(runs):
                started = time.perf_counter()
                pairs = live(admin)
                seconds.append(time.perf_counter() - started)
                db.session.rollback()
            reasons = Counter(r for p in pairs for r in p["reasons"])
            planted = sum(1 for p in pairs if "same_email" in p["reasons"])
            print(
                f"{kind}: {customers} customers, the finder run live {_median(seconds)}; "
                f"{len(pairs)} pairs {dict(reasons)}; planted twins found {planted}/{twins}"
            )
            if candidates is not None:
                for what in ("first (empty table)", "again (nothing changed)"):
                    started = time.perf_counter()
                    counts = candidates.refresh()
                    db.session.commit()
                    took = time.perf_counter() - started
                    print(f"{kind}: refresh {what} {took:.2f} s {counts}")
                assert candidates.find(admin) == pairs
            db.session.commit()
        # Requests push app contexts of their own: none may be pushed meanwhile.
        with app.app_context():
            db.session.remove()
        for name, taken in _requests(app, token, runs).items():
            print(f"{kind}: GET {name} (first page) {_median(taken)}")
    finally:
        if not keep:
            drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        run(kind, args.customers, args.runs, args.keep)


if __name__ == "__main__":
    main()
