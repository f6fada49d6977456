"""The suite's fixtures, loaded for every test from tests/fixtures (one module per concern):
a test names the fixtures it uses and imports none. Plain helpers are imported from
those modules (``from tests.fixtures.email import deliver, make_mail``).

Markers (declared in pyproject.toml): ``slow`` for tests that take seconds (a live server,
a browser, Dovecot, a worker process), ``redis`` for tests that need the real Redis;
``make test-fast`` runs the suite without the slow ones.
"""

import gc
import os

pytest_plugins = [
    "tests.fixtures.app",
    "tests.fixtures.agents",
    "tests.fixtures.customers",
    "tests.fixtures.tickets",
    "tests.fixtures.email",
    "tests.fixtures.twilio",
    "tests.fixtures.oauth",
    "tests.fixtures.browser",
    "tests.fixtures.outage",
    "tests.fixtures.receivers",
    "tests.fixtures.mailchimp",
]


def _postgresql_run() -> bool:
    url = os.environ.get("DATABASE_URL", "")
    return url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://"))


def pytest_collection_modifyitems(config, items):
    """`make test` runs the suite once per database; a test that never touches the run's
    database (no ``_schema`` among its fixtures: parsers, rules, the installed package on
    its own SQLite file, Redis alone) would only run the same thing twice, so the
    PostgreSQL run leaves it to the SQLite run. A test that reaches the run's database
    another way (a benchmark process given DATABASE_URL) is marked ``database``."""
    if not _postgresql_run():
        return
    kept, once = [], []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"_schema", "base_config"} or item.get_closest_marker("database"):
            kept.append(item)
        else:
            once.append(item)
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = kept


def pytest_report_header(config):
    if _postgresql_run():
        return "tests that use no database run in the SQLite run only (tests/conftest.py)"
    return None


def pytest_collection_finish(session):
    """The garbage collector cost the suite more CPU than anything else it repeats: every
    test builds an app (thousands of objects), and each full collection walked everything
    the run had imported and collected. What exists now (modules, the collected tests)
    lives as long as the run, so it is frozen out of the collector's sight, and
    collections come every 50,000 allocations instead of every 700 (about half the
    suite's time on a busy machine; memory stays bounded, cycles are still collected)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
