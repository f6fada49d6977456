"""`helpdesk chat`: add and list website chat widgets."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from helpdesk.audit import services as audit
from helpdesk.channels.chat.services import CHAT, create_chat_channel
from helpdesk.channels.models import Channel
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
    if db.session.execute(select(Channel.id).where(Channel.name == name)).first():
        raise click.ClickException(f"a channel called {name!r} exists already")
    channel, secret = create_chat_channel(name, team, origins, greeting, offline_message)
    db.session.flush()
    audit.record_saved("channel", channel.id, None, channel.public())
    db.session.commit()
    base = current_app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    click.echo(f"chat channel {channel.id} {name!r}: key {channel.address}")
    click.echo(
        f'Embed: <script src="{base}/chat/widget.js" data-channel="{channel.address}" '
        "async></script>"
    )
    click.echo(f"Identity secret (sign logged-in customers' emails; shown once): {secret}")


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
