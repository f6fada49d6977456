"""The `helpdesk` command line (PRODUCT.md): serve, worker, scheduler, init, agents, imports."""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from helpdesk.extensions import db


def upgrade_schema() -> None:
    """Apply every Alembic migration."""
    from flask_migrate import upgrade

    upgrade()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Serve agent UI, API, webhooks and Socket.IO."""
    from helpdesk.extensions import socketio

    # Flask refuses app.run() under its own CLI; this command is that server on purpose.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    click.echo(f"helpdesk on http://{host}:{port}/  (Ctrl-C stops)")
    from helpdesk.web.serving import RequestHandler, settle_heap

    if not current_app.config.get("REDIS_URL"):
        from workers.scheduler import start_in_thread

        click.echo(
            "periodic work (mail polls, SLA checks) runs in this process; "
            "with REDIS_URL set, run `helpdesk scheduler` and `helpdesk worker`"
        )
        start_in_thread(current_app._get_current_object())  # type: ignore[attr-defined]  # a LocalProxy
    settle_heap()

    from helpdesk import realtime

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy
    try:
        socketio.run(
            app,
            host=host,
            port=port,
            allow_unsafe_werkzeug=True,
            use_reloader=False,
            log_output=False,
            request_handler=RequestHandler,
        )
    finally:
        realtime.shutdown(app)  # the Socket.IO Redis listener and its connection


@click.command("worker")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker on the default, outbound, mail and campaigns queues (in that order)."""
    from helpdesk.web.serving import settle_heap
    from workers.worker import run

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException(
            "REDIS_URL is not set: jobs already run inside `helpdesk serve`; a worker needs Redis"
        )
    settle_heap()  # also spares the forked job processes copying the pages a collection touches
    run(burst=burst)


@click.command("scheduler")
@with_appcontext
def scheduler() -> None:
    """Run periodic work (listed in workers/scheduler.py)."""
    from workers.scheduler import run

    run()


@click.command("init")
@click.option("--demo", is_flag=True, help="seed demo data when the database is empty")
@with_appcontext
def init(demo: bool) -> None:
    """Migrate the schema; with --demo, seed demo data into an empty database."""
    upgrade_schema()
    click.echo("database schema is up to date")
    if demo:
        from helpdesk import demo as demo_data
        from helpdesk.agents.models import Agent

        if db.session.scalar(select(func.count(Agent.id))):
            click.echo("database already has data: demo not seeded")
        else:
            for line in demo_data.seed():
                click.echo(line)


def init_app(app) -> None:
    """Attach the core commands (each domain's init_app adds its own; Flask-Migrate `db`)."""
    for command in (serve, worker, scheduler, init):
        app.cli.add_command(command)
