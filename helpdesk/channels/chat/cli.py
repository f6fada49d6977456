"""`helpdesk chat`: add and list website chat widgets."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from helpdesk.channels.chat.widgets import CHAT, KEEP, rotate_secret, save_widget, snippet
from helpdesk.channels.models import Channel
from helpdesk.errors import Invalid
from helpdesk.extensions import db


@click.group("chat")
def chat_group() -> None:
    """Manage live-chat channels (the website widget)."""


@chat_group.command("add")
@click.argument("name")
@click.option("--team", help="team (created if new) whose agents answer this chat")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    required=True,
    help="a website allowed to embed the widget, e.g. https://shop.example "
    "(repeat for several; * allows any)",
)
@click.option("--greeting", help="the first thing visitors read")
@click.option("--offline-message", help="what visitors read when nobody is online")
@with_appcontext
def chat_add(
    name: str,
    team: str | None,
    origins: tuple[str, ...],
    greeting: str | None,
    offline_message: str | None,
) -> None:
    """Add a chat channel; prints the script tag and the identity secret (shown once)."""
    from helpdesk.agents.services import AgentError, team_named

    try:
        channel, secret = save_widget(
            None,
            name,
            origins,
            greeting,
            offline_message,
            team=team_named(team) if team else KEEP,
        )
    except (Invalid, AgentError) as exc:
        db.session.rollback()
        raise click.ClickException(getattr(exc, "message", None) or str(exc)) from exc
    db.session.commit()
    base = current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    click.echo(f"chat channel {channel.id} {name!r}: key {channel.address}")
    click.echo(f"Embed: {snippet(channel, base)}")
    click.echo(f"Identity secret (sign logged-in customers' emails; shown once): {secret}")


@chat_group.command("rotate-secret")
@click.argument("name")
@with_appcontext
def chat_rotate_secret(name: str) -> None:
    """A new identity secret for the chat channel NAME (the old one stops working)."""
    channel = db.session.execute(
        select(Channel).where(Channel.kind == CHAT, Channel.name == name)
    ).scalar_one_or_none()
    if channel is None:
        raise click.ClickException(f"no chat channel called {name!r}")
    secret = rotate_secret(channel)
    db.session.commit()
    click.echo(f"Identity secret of {name!r} (shown once): {secret}")


@chat_group.command("list")
@with_appcontext
def chat_list() -> None:
    """The chat channels with their keys and allowed websites (never their secrets)."""
    for channel in (
        db.session.execute(select(Channel).where(Channel.kind == CHAT).order_by(Channel.id))
        .unique()
        .scalars()
    ):
        click.echo(
            f"{channel.id}\t{channel.name}\t{channel.address}\t"
            f"{','.join((channel.settings or {}).get('origins', []))}\t"
            f"{channel.team.name if channel.team else '-'}"
        )


COMMANDS = (chat_group,)
