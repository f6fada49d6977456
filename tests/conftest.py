"""The suite's fixtures, loaded for every test from tests/fixtures (one module per concern):
a test names the fixtures it uses and imports none. Plain helpers are imported from
those modules (``from tests.fixtures.email import deliver, make_mail``).

Markers (declared in pyproject.toml): ``slow`` for tests that take seconds (a live server,
a browser, Dovecot, a worker process), ``redis`` for tests that need the real Redis;
``make test-fast`` runs the suite without the slow ones.
"""

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
