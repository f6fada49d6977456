"""The `helpdesk` command line (PRODUCT.md): serve, worker, scheduler, init, agents, imports."""
from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select

from .extensions import db


def main() -> None:
    """Entry point of the `helpdesk` console script."""
    from . import create_app

    cli = FlaskGroup(create_app=lambda: create_app(), add_default_commands=True,
                     help="helpdesk: omnichannel support with an embedded CRM.")
    cli.main(prog_name="helpdesk")


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
    from .extensions import socketio

    # Flask refuses app.run() under its own CLI; this command is that server on purpose.
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    click.echo(f"helpdesk on http://{host}:{port}/  (Ctrl-C stops)")
    from .serving import RequestHandler

    socketio.run(current_app._get_current_object(), host=host, port=port,
                 allow_unsafe_werkzeug=True, use_reloader=False, log_output=False,
                 request_handler=RequestHandler)


@click.command("worker")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker on the default, outbound and mail queues."""
    from workers.worker import run

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: jobs already run inside `helpdesk "
                                   "serve`; a worker needs Redis")
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
        from . import demo as demo_data
        from .agents.models import Agent

        if db.session.scalar(select(func.count(Agent.id))):
            click.echo("database already has data: demo not seeded")
        else:
            for line in demo_data.seed():
                click.echo(line)


@click.group("agent")
def agent_group() -> None:
    """Manage agents."""


@agent_group.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["agent", "lead", "admin"]), default="agent",
              show_default=True)
@click.option("--team", "teams", multiple=True, help="team name (created if new); repeatable")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@with_appcontext
def agent_create(email: str, name: str, role: str, teams: tuple[str, ...],
                 password_stdin: bool) -> None:
    """Add an agent."""
    from .agents import services

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        agent, generated = services.create_agent(email, name, role, list(teams), password)
    except services.AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"agent {agent.id} {agent.email} ({agent.role})")
    if generated:
        click.echo(f"password: {generated}")


@click.group("token")
def token_group() -> None:
    """Manage API tokens."""


@token_group.command("create")
@click.argument("email")
@with_appcontext
def token_create(email: str) -> None:
    """Print a new API token for that agent (shown once)."""
    from .agents.models import Agent, ApiToken

    agent = db.session.execute(select(Agent).where(func.lower(Agent.email) == email.lower())
                               ).scalar_one_or_none()
    if agent is None:
        raise click.ClickException(f"no agent {email}")
    row, clear = ApiToken.issue(agent)
    db.session.add(row)
    db.session.commit()
    click.echo(clear)


@click.group("team")
def team_group() -> None:
    """Manage teams."""


@team_group.command("set")
@click.argument("name")
@click.option("--assignment", type=click.Choice(["manual", "round_robin", "least_loaded"]),
              required=True, help="how the team's new tickets find an agent")
@with_appcontext
def team_set(name: str, assignment: str) -> None:
    """Change a team (created if new): its assignment mode."""
    from . import unit_of_work
    from .agents.services import AgentError, team_named
    from .tickets.assignment import set_mode

    try:
        team = team_named(name)
    except AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    set_mode(team, assignment)
    unit_of_work.commit()
    click.echo(f"team {team.name}: assignment {team.assignment}")


@click.group("import")
def import_group() -> None:
    """Bulk-load CSV files."""


def _report(result) -> None:
    """Print an import report; exit 1 if any row was refused."""
    for line, message in result.errors:
        click.echo(f"line {line}: {message}", err=True)
    click.echo(f"{result.loaded} loaded, {len(result.errors)} refused")
    if result.errors:
        sys.exit(1)


@import_group.command("customers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_customers(path: str) -> None:
    """Load customers from CSV; bad rows are reported with their line number."""
    from .customers import imports

    _report(imports.import_customers(path))


@import_group.command("orders")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_orders(path: str) -> None:
    """Load orders from CSV; bad rows are reported with their line number."""
    from .customers import imports

    _report(imports.import_orders(path))


from .channels.phone_cli import phone_group  # noqa: E402 - channel commands live with their channel
from .channels.email_cli import mail_group, mailbox_group  # noqa: E402
from .channels.chat import chat_group  # noqa: E402

COMMANDS = (serve, worker, scheduler, init, agent_group, token_group, team_group, import_group,
            phone_group, mailbox_group, mail_group, chat_group)


def init_app(app) -> None:
    """Attach the commands to the app's CLI (Flask-Migrate adds `db`)."""
    for command in COMMANDS:
        app.cli.add_command(command)


if __name__ == "__main__":  # `python -m helpdesk.commands ...`, as the console script
    main()
