"""`helpdesk phone add NUMBER [--team T]`: route SMS and calls to a Twilio number to a team."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from helpdesk.channels.twilio.numbers import KEEP, find, remove_number, save_number
from helpdesk.errors import Invalid
from helpdesk.extensions import db


@click.group("phone")
def phone_group() -> None:
    """Manage phone numbers (Twilio SMS and calls)."""


@phone_group.command("add")
@click.argument("number")
@click.option("--team", help="team name (created if new) that gets the number's SMS and calls")
@click.option("--name", help="a name for the line (default: the number)")
@click.option(
    "--hours",
    help="business hours, e.g. 'mon-fri 09:00-17:00, sat 10:00-14:00' "
    "(default: always open); outside them callers reach voicemail",
)
@click.option("--timezone", "zone", help="time zone of the business hours, e.g. Europe/Berlin")
@click.option("--language", help="language of the spoken prompts, e.g. de-DE")
@click.option("--greeting", help="what callers hear first")
@with_appcontext
def phone_add(
    number: str,
    team: str | None,
    name: str | None,
    hours: str | None,
    zone: str | None,
    language: str | None,
    greeting: str | None,
) -> None:
    """Route SMS and calls to that Twilio number to a team (again: change its settings)."""
    from helpdesk.agents.services import AgentError, team_named

    try:
        team_row = team_named(team) if team else KEEP
        channel = find(number)
        created = channel is None
        channel = save_number(
            channel,
            number,
            name,
            team_row,
            {"hours": hours, "timezone": zone, "language": language, "greeting": greeting},
        )
    except (Invalid, AgentError) as exc:
        db.session.rollback()
        raise click.ClickException(getattr(exc, "message", None) or str(exc)) from exc
    db.session.commit()
    routed = f"team {channel.team.name}" if channel.team else "no team (every agent)"
    click.echo(
        f"phone {channel.address} {'added' if created else 'updated'} (channel {channel.id}): "
        f"SMS and calls go to {routed}"
    )
    click.echo(
        "Point the number's webhooks at /webhooks/twilio/sms, /webhooks/twilio/voice and "
        "(call status changes) /webhooks/twilio/voice/status"
    )


@phone_group.command("remove")
@click.argument("number")
@with_appcontext
def phone_remove(number: str) -> None:
    """Stop taking SMS and calls to that number (its tickets stay)."""
    channel = find(number)
    if channel is None:
        raise click.ClickException(f"no phone number {number!r} is set up")
    remove_number(channel)
    db.session.commit()
    click.echo(f"phone {channel.address} removed")


COMMANDS = (phone_group,)
