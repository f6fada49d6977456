"""Shared fixtures: a real database (SQLite file or PostgreSQL), app, clients, factories.

The schema is built once per run through the Alembic migrations (so they are
tested too); every test then starts from empty tables. Select PostgreSQL with
DATABASE_URL; HELPDESK_TEST_DB names the throw-away database created there,
so parallel runs do not meet.
"""

from __future__ import annotations

import itertools
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, text

from helpdesk import create_app, unit_of_work
from helpdesk.extensions import db
from helpdesk.web.serving import server as serving_server

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
REDIS_BASE = os.environ.get("HELPDESK_TEST_REDIS", "redis://127.0.0.1:6379")


def _database_url(tmp_root: Path) -> str:
    """The database of this run: a fresh PostgreSQL database, or a SQLite file."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        return f"sqlite:///{tmp_root / 'test.db'}"
    import psycopg

    name = os.environ.get("HELPDESK_TEST_DB", "helpdesk_test")
    base = url.split("://", 1)[1].rsplit("/", 1)[0]
    with psycopg.connect(f"postgresql://{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{base}/{name}"


@pytest.fixture(scope="session")
def base_config(tmp_path_factory) -> dict:
    """Configuration shared by every app of the run."""
    root = tmp_path_factory.mktemp("helpdesk")
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": _database_url(root),
        "REDIS_URL": None,
        "SOCKETIO_CHANNEL": f"helpdesk-test-{os.getpid()}",
        "SECRET_KEY": "test-secret",
        "ATTACHMENT_DIR": str(root / "attachments"),
        "SERVER_NAME": None,
        "PRESENCE_GRACE_SECONDS": 0,  # offline at once (no thread outliving a test)
        # Fast password hashes: scrypt costs 0.13 s per agent made and per login checked.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


@pytest.fixture(scope="session", autouse=True)
def _quiet_socketio_listeners_at_exit():
    """Socket.IO's Redis listener threads of finished test apps outlive their tests and
    complain while the interpreter shuts down; after the last test that is only noise."""
    yield
    import logging

    for name in ("socketio.server", "socketio.client", "socketio"):
        logging.getLogger(name).disabled = True


@pytest.fixture(scope="session")
def _schema(base_config):
    """Build the schema once, through the migrations."""
    from flask_migrate import upgrade

    app = create_app(dict(base_config))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return True


def _empty_tables() -> None:
    """Delete every row, children first, and restart the ids, so the next test starts
    clean. (On PostgreSQL, DELETE and setval take 4 ms where TRUNCATE takes 100.)"""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        sequences = [
            t
            for t in tables
            if "id" in db.metadata.tables[t].c
            and db.metadata.tables[t].c.id.autoincrement is not False
            and db.metadata.tables[t].c.id.primary_key
        ]
        db.session.execute(text("; ".join(f"DELETE FROM {name}" for name in tables)))
        db.session.execute(
            text(
                "; ".join(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), 1, false)"
                    for name in sequences
                )
            )
        )
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
        db.session.execute(text("DELETE FROM sqlite_sequence")) if db.session.execute(
            text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")
        ).first() else None
    db.session.commit()


_TESTS = itertools.count()


@pytest.fixture
def make_app(base_config, _schema):
    """Build an app with extra configuration; tables are emptied afterwards.

    Each test's apps talk on a Socket.IO channel of their own: the Redis listener threads
    of earlier tests' apps live on (Flask-SocketIO cannot stop them) and must not keep
    receiving, and falling behind on, every later test's events."""
    made = []
    channel = f"{base_config['SOCKETIO_CHANNEL']}-{next(_TESTS)}"

    def factory(**overrides):
        app = create_app({**base_config, "SOCKETIO_CHANNEL": channel, **overrides})
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            _empty_tables()
            db.engine.dispose()


@pytest.fixture
def app_config() -> dict:
    """Configuration overrides for ``app``; a test module overrides this fixture
    (e.g. to set REDIS_URL) so that the whole test shares one app: Socket.IO is
    one object per process and binds to the app built last."""
    return {}


@pytest.fixture
def app(make_app, app_config):
    """The app, with an app context pushed for the test body."""
    app = make_app(**app_config)
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def redis_url():
    """A real Redis database of its own for this test, emptied before and after."""
    from redis import Redis

    number = int(os.environ.get("HELPDESK_TEST_REDIS_DB", "15"))
    url = f"{REDIS_BASE}/{number}"
    conn = Redis.from_url(url)
    conn.flushdb()
    yield url
    conn.flushdb()
    conn.close()


# --- factories ---------------------------------------------------------------


@pytest.fixture
def make_agent(app):
    """Create an agent (with teams by name) and return it."""
    from helpdesk.agents import services

    def factory(email=None, role="agent", teams=(), name=None, password="correct horse"):
        factory.n += 1
        email = email or f"agent{factory.n}@example.com"
        with unit_of_work.write_phase():
            agent, _ = services.create_agent(
                email, name or email.split("@")[0].title(), role, list(teams), password
            )
            db.session.commit()
        return agent

    factory.n = 0
    return factory


@pytest.fixture
def make_token(app):
    """Issue an API token for an agent and return the clear token."""
    from helpdesk.agents.models import ApiToken

    def factory(agent):
        # A live server may write meanwhile: write in a transaction that locks up front.
        with unit_of_work.write_phase():
            row, clear = ApiToken.issue(agent)
            db.session.add(row)
            db.session.commit()
        return clear

    return factory


class Api:
    """The test client with an agent's bearer token on every request."""

    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        def call(path, **kwargs):
            kwargs.setdefault("headers", {}).update(self.headers)
            return getattr(self.client, method)(path, **kwargs)

        return call


@pytest.fixture
def admin(make_agent):
    """An admin in team Support."""
    return make_agent("admin@example.com", role="admin", teams=["Support"], name="Admin")


@pytest.fixture
def api(client, admin, make_token):
    """API calls as the admin."""
    return Api(client, make_token(admin))


@pytest.fixture
def api_as(client, make_token):
    """API calls as any agent: ``api_as(agent).get(...)``."""
    return lambda agent: Api(client, make_token(agent))


@pytest.fixture
def make_customer(app):
    """Create a customer with identities through the CRM service."""
    from helpdesk.customers import services

    def factory(name="Ada Lovelace", emails=(), phones=(), **fields):
        with unit_of_work.write_phase():  # a live server may write meanwhile
            customer = services.create_customer(
                {"name": name, "emails": list(emails), "phones": list(phones), **fields}
            )
            db.session.commit()
        return customer

    return factory


@pytest.fixture
def inbound(app):
    """Ingest a message through the real pipeline: ``inbound(channel, sender, text, ...)``."""
    from helpdesk.tickets.inbound import InboundMessage
    from helpdesk.tickets.ingest import ingest

    def send(channel="email", sender="ada@example.com", text="Hello", kind=None, **fields):
        kind = kind or {"email": "email", "sms": "phone", "voice": "phone"}.get(channel, "chat")
        return ingest(
            InboundMessage(channel=channel, sender_kind=kind, sender=sender, text=text, **fields)
        )

    return send


@pytest.fixture
def count_queries(app):
    """Count SQL statements run inside a ``with count_queries() as counter:`` block."""

    @contextmanager
    def counting():
        statements: list[str] = []

        def before(conn, cursor, statement, *args):
            statements.append(statement)

        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


@contextmanager
def serving(app):
    """Serve ``app`` (HTTP and Socket.IO over WebSocket) on a free loopback port."""
    server = serving_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        _wait_for_socket_handlers(app)


def _wait_for_socket_handlers(app, timeout: float = 3.0) -> None:
    """Let the server threads finish their disconnect handlers (presence writes) before
    the test's engine is disposed: a handler running after that would open a database
    connection nobody closes."""
    eio = app.extensions["socketio"].server.eio
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if all(getattr(s, "closed", True) for s in list(eio.sockets.values())):
            break
        pause.wait(0.02)
    pause.wait(0.05)


@pytest.fixture
def live_server(app):
    """``app`` served on a free loopback port; yields its base URL."""
    with serving(app) as url:
        yield url


def corpus(*parts: str) -> Path:
    """A folder of ../shared/corpora; the test is skipped with a reason when it is absent."""
    path = CORPORA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus {path} is not beside the checkout")
    return path
