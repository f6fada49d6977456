"""helpdesk: an omnichannel support helpdesk with an embedded CRM."""

from __future__ import annotations

import sqlite3

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from helpdesk import (
    agents,
    audit,
    automation,
    board,
    campaigns,
    channels,
    cli,
    compose,
    customers,
    duplicates,
    errors,
    extensions,
    fields,
    files,
    i18n,
    imports,
    inbox,
    integrations,
    metrics,
    notifications,
    organizations,
    realtime,
    reports,
    segments,
    settings,
    sla,
    surveys,
    tickets,
    unit_of_work,
    web,
    webhooks,
)
from helpdesk.agents import models as agent_models
from helpdesk.audit import models as audit_models
from helpdesk.automation.macros import models as macro_models
from helpdesk.campaigns import models as campaign_models
from helpdesk.channels import models as channel_models
from helpdesk.config import PACKAGE, from_environment, instance_path
from helpdesk.customers import models as customer_models
from helpdesk.duplicates import models as duplicate_models
from helpdesk.fields import models as field_models
from helpdesk.imports import models as import_models
from helpdesk.integrations.mailchimp import models as mailchimp_models
from helpdesk.metrics import logs
from helpdesk.notifications import models as notification_models
from helpdesk.reports import models as report_models
from helpdesk.segments import models as segment_models
from helpdesk.sla import models as sla_models
from helpdesk.surveys import models as survey_models
from helpdesk.tickets import models as ticket_models
from helpdesk.webhooks import models as webhook_models

# The domain packages, in the order they register: each one's init_app mounts its
# blueprints, commands and hooks (channels and automation hang their follow-ups and
# listeners on the core here, never by being imported).
DOMAINS = (
    web,
    agents,
    audit,
    customers,
    duplicates,
    fields,
    organizations,
    imports,
    segments,
    tickets,
    files,
    compose,
    inbox,
    sla,
    board,
    channels,
    automation,
    reports,
    surveys,
    settings,
    notifications,
    webhooks,
    integrations,
    campaigns,
)
# Every model module, so the metadata (and Alembic) see all tables.
MODELS = (
    agent_models,
    audit_models,
    channel_models,
    customer_models,
    duplicate_models,
    field_models,
    import_models,
    segment_models,
    ticket_models,
    sla_models,
    macro_models,
    report_models,
    survey_models,
    notification_models,
    webhook_models,
    mailchimp_models,
    campaign_models,
)


def create_app(config: dict | None = None) -> Flask:
    """Build the application: configuration, extensions, the domains, error handlers."""
    instance = instance_path()
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(PACKAGE / "templates"),
        static_folder=str(PACKAGE / "static"),
    )
    app.config.from_mapping(from_environment(instance))
    if config:
        app.config.from_mapping(config)
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        # A file has no server connection to go stale: no SELECT 1 before every checkout.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            k: v for k, v in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items() if k != "pool_pre_ping"
        }
    instance.mkdir(parents=True, exist_ok=True)
    logs.configure(app.config["LOG_FORMAT"])
    register_extensions(app)
    # First: every request gets its id (and timing) before any domain's hook runs.
    metrics.init_app(app)
    for domain in DOMAINS:
        domain.init_app(app)
    # Last: Socket.IO binds the namespaces registered by then (the domains' included).
    realtime.init_app(app)
    web.trust_proxies(app)  # outermost, around Socket.IO's middleware too
    errors.init_app(app)
    cli.init_app(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extension objects of extensions.py."""
    # (``helpdesk.db`` is the module of column helpers; the Flask-SQLAlchemy object is
    # ``extensions.db``, so this package never binds the name ``db`` itself.)
    extensions.db.init_app(app)
    extensions.migrate.init_app(
        app, extensions.db, directory=str(PACKAGE / "migrations"), render_as_batch=True
    )
    extensions.login_manager.init_app(app)
    extensions.csrf.init_app(app)
    i18n.init_app(app)
    unit_of_work.init_app(app)


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
        from helpdesk.unit_of_work import write_intent

        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")
