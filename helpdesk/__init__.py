"""helpdesk: an omnichannel support helpdesk with an embedded CRM."""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .config import ROOT, from_environment


def create_app(config: dict | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, handlers, commands."""
    instance = Path(ROOT / "instance")
    app = Flask(__name__, instance_path=str(instance), template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "static"))
    app.config.from_mapping(from_environment(instance))
    if config:
        app.config.from_mapping(config)
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        # A file has no server connection to go stale: no SELECT 1 before every checkout.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            k: v for k, v in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items()
            if k != "pool_pre_ping"}
    instance.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_channels(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extension objects of extensions.py."""
    from . import realtime, unit_of_work
    from .agents import auth  # noqa: F401 - registers the Flask-Login user loader
    from .extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "agents.login"
    csrf.init_app(app)
    # Namespaces register on import; Socket.IO's init_app only binds those known by then.
    from .channels import chat  # noqa: F401 - the /chat namespace
    realtime.init_app(app)
    unit_of_work.init_app(app)
    _import_models()


def _import_models() -> None:
    """Import every model module so metadata (and Alembic) see all tables."""
    from .agents import models as _agents  # noqa: F401
    from .channels import models as _channels  # noqa: F401
    from .customers import models as _customers  # noqa: F401
    from .tickets import models as _tickets  # noqa: F401
    from .tickets import macros as _macros  # noqa: F401


def register_blueprints(app: Flask) -> None:
    """Mount the UI, API and webhook blueprints of every domain package."""
    from .agents.views import bp as agents_bp
    from .channels.chat import bp as chat_bp
    from .channels.cti import bp as cti_api
    from .channels.webhooks import bp as twilio_webhooks
    from .customers.api import bp as customers_api
    from .extensions import csrf
    from .health import bp as health_bp
    from .tickets.api import bp as tickets_api
    from .tickets.sla_api import bp as sla_api
    from .web import bp as web_bp
    from . import board_web  # noqa: F401 - adds the team board's pages to the web blueprint

    for blueprint in (health_bp, agents_bp, web_bp, chat_bp):
        app.register_blueprint(blueprint)
    for blueprint in (customers_api, tickets_api, sla_api, cti_api):
        csrf.exempt(blueprint)  # API callers authenticate per request (token, or session + CSRF header)
        app.register_blueprint(blueprint)
    csrf.exempt(twilio_webhooks)  # Twilio proves itself with X-Twilio-Signature
    app.register_blueprint(twilio_webhooks)


def register_channels(app: Flask) -> None:
    """Import the channel adapters so ``deliver`` finds them in web and worker processes."""
    from .channels import email_send  # noqa: F401 - registers the "email" adapter
    from .channels import twilio_sms, twilio_voice  # noqa: F401 - "sms" adapter, media jobs
    from .channels import chat  # noqa: F401 - "chat" adapter and the /chat namespace
    from .tickets import bot  # noqa: F401 - the order-status bot's ingest follow-up
    from .tickets import assignment  # noqa: F401 - assigns new tickets, hands out on coming online
    from .tickets import autoack  # noqa: F401 - acknowledges new email tickets per mailbox
    from .tickets import order_updates  # noqa: F401 - tells opted-in customers of order changes


def register_errorhandlers(app: Flask) -> None:
    """One JSON error shape for API callers, pages for browsers."""
    from . import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """The `helpdesk` CLI commands."""
    from .commands import init_app

    init_app(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: enforce foreign keys, allow concurrent readers, make savepoints work."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        # pysqlite's own transaction handling breaks SAVEPOINT; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    """SQLite: start the transaction explicitly (see _sqlite_pragmas)."""
    if conn.dialect.name == "sqlite":
        from .unit_of_work import write_intent

        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")
