"""The `helpdesk` command line (PRODUCT.md): serve, worker, scheduler, init, agents, imports."""
from __future__ import annotations

import json
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
    from .serving import RequestHandler, settle_heap

    if not current_app.config.get("REDIS_URL"):
        from workers.scheduler import start_in_thread

        click.echo("periodic work (mail polls, SLA checks) runs in this process; "
                   "with REDIS_URL set, run `helpdesk scheduler` and `helpdesk worker`")
        start_in_thread(current_app._get_current_object())
    settle_heap()

    socketio.run(current_app._get_current_object(), host=host, port=port,
                 allow_unsafe_werkzeug=True, use_reloader=False, log_output=False,
                 request_handler=RequestHandler)


@click.command("worker")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker on the default, outbound and mail queues."""
    from workers.worker import run

    from .serving import settle_heap

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: jobs already run inside `helpdesk "
                                   "serve`; a worker needs Redis")
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
              help="how the team's new tickets find an agent")
@click.option("--hours", help='business hours as JSON, e.g. \'{"timezone": "Europe/Berlin", '
              '"hours": {"mon": [["09:00", "17:00"]]}, "holidays": ["2026-12-25"]}\'; '
              '"none" for around the clock; @FILE reads a file')
@click.option("--escalation-team", help="team that takes this team's escalations; "
              '"none" for the team\'s own lead')
@with_appcontext
def team_set(name: str, assignment: str | None, hours: str | None,
             escalation_team: str | None) -> None:
    """Change a team (created if new): assignment mode, business hours, escalation team."""
    from . import unit_of_work
    from .agents.services import AgentError, team_named
    from .errors import HelpdeskError
    from .tickets import sla_policies
    from .tickets.assignment import set_mode

    try:
        team = team_named(name)
        db.session.flush()
        if assignment:
            set_mode(team, assignment)
        if hours is not None:
            sla_policies.set_calendar(team, _json_option(hours, "--hours"))
        if escalation_team is not None:
            other = None if escalation_team.lower() == "none" else team_named(escalation_team)
            db.session.flush()
            sla_policies.set_escalation_team(team, other)
    except (AgentError, HelpdeskError) as exc:
        raise click.ClickException(str(exc)) from exc
    unit_of_work.commit()
    click.echo(json.dumps(sla_policies.team_json(team)))


def _json_option(value: str, option: str):
    """An option given as JSON, ``@FILE`` or ``none``."""
    if value.lower() == "none":
        return None
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as handle:
            value = handle.read()
    try:
        return json.loads(value)
    except ValueError as exc:
        raise click.ClickException(f"{option}: not JSON: {exc}") from exc


@click.group("sla")
def sla_group() -> None:
    """Manage SLA policies (targets in business minutes)."""


@sla_group.command("add")
@click.argument("name")
@click.option("--priority", type=click.Choice(["low", "normal", "high", "urgent"]))
@click.option("--channel", type=click.Choice(["email", "sms", "voice", "chat", "web", "api"]))
@click.option("--organization", type=int, help="organization id")
@click.option("--first-response", type=click.IntRange(1), help="minutes")
@click.option("--next-response", type=click.IntRange(1), help="minutes")
@click.option("--resolution", type=click.IntRange(1), help="minutes")
@with_appcontext
def sla_add(name, priority, channel, organization, first_response, next_response,
            resolution) -> None:
    """Add a policy; the most specific matching one applies (organization, channel, priority)."""
    from . import unit_of_work
    from .errors import HelpdeskError
    from .tickets import sla_policies

    data = {"name": name, "priority": priority, "channel": channel,
            "organization": organization, "first_response_minutes": first_response,
            "next_response_minutes": next_response, "resolution_minutes": resolution}
    try:
        policy = sla_policies.create(data, None)
    except HelpdeskError as exc:
        raise click.ClickException(str(exc)) from exc
    unit_of_work.commit()
    click.echo(json.dumps(sla_policies.policy_json(policy)))


@sla_group.command("list")
@with_appcontext
def sla_list() -> None:
    """Print every policy as JSON lines."""
    from .tickets import sla_policies
    from .tickets.models import SlaPolicy

    for policy in db.session.execute(select(SlaPolicy).order_by(SlaPolicy.id)).scalars():
        click.echo(json.dumps(sla_policies.policy_json(policy)))


@sla_group.command("remove")
@click.argument("name")
@with_appcontext
def sla_remove(name: str) -> None:
    """Remove the policy called NAME."""
    from . import unit_of_work
    from .tickets import sla_policies
    from .tickets.models import SlaPolicy

    policy = db.session.execute(select(SlaPolicy).where(SlaPolicy.name == name)).scalar()
    if policy is None:
        raise click.ClickException(f"no policy called {name!r}")
    sla_policies.delete(policy.id, None)
    unit_of_work.commit()
    click.echo(f"removed {name}")


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

COMMANDS = (serve, worker, scheduler, init, agent_group, token_group, team_group, sla_group,
            import_group,
            phone_group, mailbox_group, mail_group, chat_group)


def init_app(app) -> None:
    """Attach the commands to the app's CLI (Flask-Migrate adds `db`)."""
    for command in COMMANDS:
        app.cli.add_command(command)


if __name__ == "__main__":  # `python -m helpdesk.commands ...`, as the console script
    main()
