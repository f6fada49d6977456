"""`helpdesk phone add NUMBER [--team T]`: route SMS and calls to a Twilio number to a team."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from helpdesk.audit import services as audit
from helpdesk.channels.models import Channel
from helpdesk.channels.twilio.common import PHONE
from helpdesk.channels.twilio.voice import parse_hours
from helpdesk.customers.identities import InvalidIdentity, normalise_phone
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
        address = normalise_phone(number)
        if hours:
            parse_hours(hours)
        if zone:
            ZoneInfo(zone)
        team_row = team_named(team) if team else None
    except (InvalidIdentity, Invalid, AgentError) as exc:
        raise click.ClickException(getattr(exc, "message", None) or str(exc)) from exc
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.ClickException(f"unknown time zone {zone!r}") from exc
    channel = db.session.execute(
        select(Channel).where(Channel.kind == PHONE, Channel.address == address)
    ).scalar_one_or_none()
    wanted = (name or (channel.name if channel is not None else address))[:100]
    with db.session.no_autoflush:
        taken = db.session.execute(
            select(Channel.id).where(
                Channel.name == wanted, Channel.id != (channel.id if channel else 0)
            )
        ).first()
    if taken:
        raise click.ClickException(
            f"a channel called {wanted!r} exists already; pick another --name"
        )
    created = channel is None
    before = channel.public() if channel is not None else None
    if channel is None:  # i.e. created
        channel = Channel(kind=PHONE, address=address, settings={}, secrets={}, state={})
        db.session.add(channel)
    channel.name = wanted
    if team_row is not None:
        channel.team = team_row
    options = {"hours": hours, "timezone": zone, "language": language, "greeting": greeting}
    channel.settings = {**(channel.settings or {}), **{k: v for k, v in options.items() if v}}
    db.session.flush()
    audit.record_saved("channel", channel.id, before, channel.public())
    db.session.commit()
    routed = (
        f"team {team_row.name}"
        if team_row is not None
        else (f"team {channel.team.name}" if channel.team else "no team (every agent)")
    )
    click.echo(
        f"phone {address} {'added' if created else 'updated'} (channel {channel.id}): "
        f"SMS and calls go to {routed}"
    )
    click.echo(
        "Point the number's webhooks at /webhooks/twilio/sms, /webhooks/twilio/voice and "
        "(call status changes) /webhooks/twilio/voice/status"
    )


COMMANDS = (phone_group,)
