"""The `helpdesk` command line (PRODUCT.md): serve, worker, scheduler, init, agents, imports."""

from __future__ import annotations

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
@click.option("--port", default=5000, show_default=True, type=int, envvar="PORT")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    envvar="WEB_CONCURRENCY",
    help="web processes on this port (more than one needs REDIS_URL)",
)
@click.option(
    "--threads",
    default=500,
    show_default=True,
    type=click.IntRange(1),
    help="requests and open WebSockets each process serves at once",
)
@click.option(
    "--timeout",
    default=30,
    show_default=True,
    type=click.IntRange(1),
    help="seconds a client may take to send a request; also the graceful stop's minimum",
)
@with_appcontext
def serve(host: str, port: int, workers: int, threads: int, timeout: int) -> None:
    """Serve agent UI, API, webhooks and Socket.IO under gunicorn (SIGTERM stops gracefully).

    Never migrates: `helpdesk init` or `helpdesk db upgrade` does, once, before."""
    from helpdesk.web import production

    in_process_jobs = not current_app.config.get("REDIS_URL")
    if in_process_jobs and workers > 1:
        raise click.ClickException(
            "several web processes share realtime events and jobs through Redis: set REDIS_URL"
        )
    if in_process_jobs:
        click.echo(
            "periodic work (mail polls, SLA checks) runs in this process; "
            "with REDIS_URL set, run `helpdesk scheduler` and `helpdesk worker`"
        )
    if workers > 1:
        _count_as_one(port)
    click.echo(f"helpdesk on http://{host}:{port}/  ({workers} process(es); Ctrl-C stops)")
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy
    production.Server(
        app, production.options(host, port, workers, threads, timeout), in_process_jobs
    ).run()


def _count_as_one(port: int) -> None:
    """Several web processes: their metrics are summed through prometheus_client's
    multiprocess mode (helpdesk/metrics/multiprocess.py), or each scrape would show the
    counts of whichever process answered it. That mode is chosen when prometheus_client is
    first imported, which the app has done by now: with PROMETHEUS_MULTIPROC_DIR unset,
    this command empties a folder of its own for it and starts again in its place (same
    pid, same arguments) with the variable set."""
    import os
    import sys
    import tempfile
    from pathlib import Path

    from helpdesk.metrics import multiprocess

    if multiprocess.folder():
        return
    try:
        folder = Path(current_app.instance_path) / "metrics" / str(port)
        multiprocess.prepare(folder)
    except OSError:  # a read-only instance folder
        folder = Path(tempfile.gettempdir()) / f"helpdesk-metrics-{port}"
        multiprocess.prepare(folder)
    click.echo(f"metrics of the web processes are summed in {folder} ({multiprocess.VARIABLE})")
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "helpdesk", *sys.argv[1:]])


@click.command("worker")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker on the default, outbound, mail, webhooks and campaigns queues (in
    that order)."""
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
