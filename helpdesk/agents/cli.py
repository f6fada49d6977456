"""`helpdesk agent`, `token`, `team`: people, their API tokens, and how teams work."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from helpdesk.extensions import db


@click.group("agent")
def agent_group() -> None:
    """Manage agents."""


@agent_group.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option(
    "--role", type=click.Choice(["agent", "lead", "admin"]), default="agent", show_default=True
)
@click.option("--team", "teams", multiple=True, help="team name (created if new); repeatable")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option(
    "--own-accounts-only",
    is_flag=True,
    help="an account manager: sees only the customers and organizations they manage",
)
@with_appcontext
def agent_create(
    email: str,
    name: str,
    role: str,
    teams: tuple[str, ...],
    password_stdin: bool,
    own_accounts_only: bool,
) -> None:
    """Add an agent."""
    from helpdesk.agents import services

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        agent, generated = services.create_agent(
            email, name, role, list(teams), password, own_accounts_only=own_accounts_only
        )
    except services.AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    only = ", own accounts only" if agent.own_accounts_only else ""
    click.echo(f"agent {agent.id} {agent.email} ({agent.role}{only})")
    if generated:
        click.echo(f"password: {generated}")


@agent_group.command("deactivate")
@click.argument("email")
@with_appcontext
def agent_deactivate(email: str) -> None:
    """Stop an agent: no login, sessions and API tokens end at once."""
    from helpdesk.agents import services

    try:
        agent = services.agent_by_email(email)
        services.deactivate(agent)
    except services.AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"agent {agent.id} {agent.email} deactivated")


@agent_group.command("password")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True, required=True, help="read the password from standard input"
)
@with_appcontext
def agent_password(email: str, password_stdin: bool) -> None:
    """Set an agent's password (read from standard input); their sessions end."""
    from helpdesk.agents import services

    password = sys.stdin.readline().rstrip("\n")
    try:
        agent = services.agent_by_email(email)
        services.set_password(agent, password)
    except services.AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"password of {agent.email} changed; their sessions ended")


@click.group("token")
def token_group() -> None:
    """Manage API tokens."""


@token_group.command("create")
@click.argument("email")
@click.option(
    "--scope",
    type=click.Choice(["api", "cti", "webhook-admin"]),
    default="api",
    show_default=True,
    help="api: the REST API and realtime; cti: only a phone system's CTI events; "
    "webhook-admin: only managing webhooks",
)
@click.option("--expires", "expires_days", type=click.IntRange(1, 3650), help="days it lasts")
@click.option("--name", help="what the token is for, shown by `token list`")
@with_appcontext
def token_create(email: str, scope: str, expires_days: int | None, name: str | None) -> None:
    """Print a new API token for that agent (shown once, never stored)."""
    from helpdesk.agents import services

    try:
        _, clear = services.issue_token(services.agent_by_email(email), scope, name, expires_days)
    except services.AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(clear)


@token_group.command("list")
@click.argument("email", required=False)
@with_appcontext
def token_list(email: str | None) -> None:
    """List API tokens (one agent's, or everyone's): never the token itself."""
    from helpdesk.agents import services
    from helpdesk.db import iso

    try:
        agent = services.agent_by_email(email) if email else None
    except services.AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("id\tagent\tscope\tname\tprefix\tcreated\texpires\tlast used\tstate")
    for row in services.tokens(agent):
        click.echo(
            "\t".join(
                [
                    str(row.id),
                    row.agent.email,
                    row.scope,
                    row.name or "-",
                    row.prefix + "…",
                    iso(row.created_at) or "-",
                    iso(row.expires_at) or "never",
                    iso(row.last_used_at) or "never",
                    services.token_state(row),
                ]
            )
        )


@token_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke(token_id: int) -> None:
    """Revoke a token (by its id from `token list`) at once."""
    from helpdesk.agents import services

    try:
        row = services.revoke_token(token_id)
    except services.AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"token {row.id} ({row.prefix}…) of {row.agent.email} revoked")


@click.group("team")
def team_group() -> None:
    """Manage teams."""


@team_group.command("set")
@click.argument("name")
@click.option(
    "--assignment",
    type=click.Choice(["manual", "round_robin", "least_loaded"]),
    help="how the team's new tickets find an agent",
)
@click.option(
    "--hours",
    help='business hours as JSON, e.g. \'{"timezone": "Europe/Berlin", '
    '"hours": {"mon": [["09:00", "17:00"]]}, "holidays": ["2026-12-25"]}\'; '
    '"none" for around the clock; @FILE reads a file',
)
@click.option(
    "--escalation-team",
    help="team that takes this team's escalations; \"none\" for the team's own lead",
)
@with_appcontext
def team_set(
    name: str, assignment: str | None, hours: str | None, escalation_team: str | None
) -> None:
    """Change a team (created if new): assignment mode, business hours, escalation team."""
    from helpdesk import unit_of_work
    from helpdesk.agents.services import AgentError, team_named
    from helpdesk.automation.assignment import set_mode
    from helpdesk.errors import HelpdeskError
    from helpdesk.sla import policies as sla_policies

    try:
        team = team_named(name)
        db.session.flush()
        before = sla_policies.team_json(team)
        if assignment:
            set_mode(team, assignment)
        if hours is not None:
            sla_policies.set_calendar(team, _json_option(hours, "--hours"))
        if escalation_team is not None:
            other = None if escalation_team.lower() == "none" else team_named(escalation_team)
            db.session.flush()
            sla_policies.set_escalation_team(team, other)
        sla_policies.record_team_change(team, before)
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


COMMANDS = (agent_group, token_group, team_group)
