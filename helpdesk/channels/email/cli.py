"""`helpdesk mailbox add|list|signature` and `helpdesk mail poll`: connect a support
mailbox, set its signature, fetch now.

Passwords are never printed back: URLs are shown with ``****`` for them, and a
bad URL is reported without echoing it.
"""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from helpdesk.errors import HelpdeskError, Invalid
from helpdesk.extensions import db


@click.group("mailbox")
def mailbox_group() -> None:
    """Manage support mailboxes (IMAP in, SMTP out)."""


@mailbox_group.command("add")
@click.argument("name")
@click.option("--imap-url", help="imap://USER:PASS@HOST:PORT/FOLDER (imaps:// for TLS)")
@click.option(
    "--smtp-url",
    help="smtp://USER:PASS@HOST:PORT (smtps:// for TLS, ?starttls=yes for STARTTLS)",
)
@click.option(
    "--oauth",
    type=click.Choice(["microsoft", "google"]),
    help="sign in with Microsoft 365 / Outlook.com or Google instead of a password: prints "
    "the link an admin opens (logged in to the helpdesk) to sign in; no URLs needed",
)
@click.option("--address", required=True, help="the support address customers write to")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from the first line of standard input (for the IMAP and SMTP "
    "URLs that carry none): not in the URL, the shell history or the process list",
)
@click.option("--team", help="team name (created if new) that gets the mailbox's tickets")
@click.option("--processed-folder", help="move mail there once stored (default: mark it seen)")
@click.option("--from-name", help="the sender name on replies (default: the team's name)")
@click.option(
    "--list-domain",
    "list_domains",
    multiple=True,
    help="a mailing-list domain (e.g. googlegroups.com) whose X-Original-Sender names the "
    "member who wrote; repeat for more; --list-domain '' clears (default: unchanged)",
)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="log in to the IMAP server before saving",
)
@click.option(
    "--auto-ack/--no-auto-ack",
    default=None,
    help="acknowledge each new ticket by mail with its number (default: off, or "
    "unchanged when the mailbox exists)",
)
@click.option(
    "--auto-ack-text",
    help="the acknowledgement's plain text; placeholders {ticket_number} {subject} "
    "{customer_name} {mailbox} (default: a short standard text)",
)
@with_appcontext
def mailbox_add(
    name: str,
    imap_url: str | None,
    smtp_url: str | None,
    oauth: str | None,
    address: str,
    password_stdin: bool,
    team: str | None,
    processed_folder: str | None,
    from_name: str | None,
    list_domains: tuple[str, ...],
    check: bool,
    auto_ack: bool | None,
    auto_ack_text: str | None,
) -> None:
    """Connect a support mailbox (again with the same name or address: change it)."""
    from sqlalchemy import select

    from helpdesk.agents.services import AgentError, team_named
    from helpdesk.automation.autoack import MAX_TEXT
    from helpdesk.channels.email.mailboxes import (
        EMAIL,
        add_mailbox,
        describe,
        server,
        with_password,
    )
    from helpdesk.channels.models import Channel
    from helpdesk.channels.oauth.signin import start_link
    from helpdesk.channels.settings.servers import test_imap

    if oauth:
        if imap_url or smtp_url or password_stdin:
            raise click.ClickException("--oauth takes no --imap-url, --smtp-url or password")
        try:
            link = start_link(oauth, address, name)
        except HelpdeskError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Open this link as an admin of the helpdesk to sign in:\n{link}")
        return
    if not imap_url or not smtp_url:
        raise click.ClickException("--imap-url and --smtp-url are needed (or --oauth)")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("--password-stdin: no password on standard input")
        imap_url, smtp_url = with_password(imap_url, password), with_password(smtp_url, password)
    if auto_ack_text is not None and len(auto_ack_text) > MAX_TEXT:
        raise click.ClickException(f"--auto-ack-text is longer than {MAX_TEXT} characters")
    # add_mailbox rewrites the settings: keep the acknowledgement unless it is given now.
    before = (
        db.session.execute(
            select(Channel.settings).where(
                Channel.kind == EMAIL,
                (Channel.name == name.strip()) | (Channel.address == address.strip().lower()),
            )
        )
        .scalars()
        .first()
        or {}
    )
    try:
        team_row = team_named(team) if team else None
        channel = add_mailbox(
            name,
            imap_url,
            smtp_url,
            address,
            team_row,
            processed_folder,
            from_name,
            list(list_domains) if list_domains else None,
        )
        ack = {key: before[key] for key in ("auto_ack", "auto_ack_text") if key in before}
        if auto_ack is not None:
            ack["auto_ack"] = auto_ack
        if auto_ack_text is not None:
            ack["auto_ack_text"] = auto_ack_text
        if ack:
            channel.settings = {**(channel.settings or {}), **ack}
            db.session.flush()
    except (Invalid, AgentError) as exc:
        db.session.rollback()
        raise click.ClickException(getattr(exc, "message", None) or str(exc)) from exc
    if check:
        imap = server(channel, "imap")
        result = test_imap(imap)
        if not result.ok:
            db.session.rollback()
            raise click.ClickException(
                f"could not open {imap.folder!r} on {imap.host}:{imap.port} as {imap.user!r}: "
                f"{result.detail} (nothing saved; --no-check saves anyway)"
            )
    db.session.commit()
    shown = describe(channel)
    routed = f"team {channel.team.name}" if channel.team else "no team (every agent)"
    click.echo(
        f"mailbox {channel.name} <{channel.address}> saved (channel {channel.id}), "
        f"tickets go to {routed}"
    )
    click.echo(f"  in:  {shown['imap']}")
    click.echo(f"  out: {shown['smtp']}")
    if (channel.settings or {}).get("auto_ack"):
        click.echo("  new tickets are acknowledged by mail")
    if (channel.settings or {}).get("list_domains"):
        domains = ", ".join(channel.settings["list_domains"])
        click.echo(f"  X-Original-Sender believed from the list domains {domains}")


@mailbox_group.command("list")
@with_appcontext
def mailbox_list() -> None:
    """Show the mailboxes, passwords masked."""
    from helpdesk.channels.email.mailboxes import describe, mailboxes

    for channel in mailboxes():
        shown = describe(channel)
        click.echo(
            f"{channel.name} <{channel.address}> in {shown['imap']} out {shown['smtp']}"
            f" last UID {shown['last_uid']}"
            + (f" last error: {shown['last_error']}" if shown["last_error"] else "")
        )


@mailbox_group.command("signature")
@click.argument("name")
@click.option("--text", default="", help="the signature; empty removes it")
@with_appcontext
def mailbox_signature(name: str, text: str) -> None:
    """Set the text every email reply from mailbox NAME ends with."""
    from helpdesk import unit_of_work
    from helpdesk.channels.email.mailboxes import mailboxes, set_signature

    found = mailboxes(name)
    if not found:
        raise click.ClickException(f"no mailbox called {name!r}")
    try:
        with unit_of_work.write_phase():
            set_signature(found[0], text.replace("\\n", "\n"))
            unit_of_work.commit()
    except Invalid as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{name}: signature {'set' if text.strip() else 'removed'}")


@click.group("mail")
def mail_group() -> None:
    """Fetch mail."""


@mail_group.command("poll")
@click.option("--mailbox", "name", help="only this mailbox (default: all)")
@with_appcontext
def mail_poll(name: str | None) -> None:
    """Fetch new mail once, now; exit 1 when a mailbox could not be polled."""
    from helpdesk.channels.email.imap import poll
    from helpdesk.channels.email.mailboxes import mailboxes

    if name and not mailboxes(name):
        raise click.ClickException(f"no active mailbox called {name!r}")
    results = poll(name)
    for result in results:
        click.echo(result.summary())
    if not results:
        click.echo("no mailboxes: add one with `helpdesk mailbox add`")
    if any(result.error for result in results):
        sys.exit(1)


@mail_group.command("idle")
@click.option("--mailbox", "name", help="only this mailbox (default: all)")
@with_appcontext
def mail_idle(name: str | None) -> None:
    """Fetch new mail the moment it arrives (IMAP IDLE) until Ctrl-C."""
    from helpdesk.channels.email.idle import watch_all
    from helpdesk.channels.email.mailboxes import mailboxes

    if not mailboxes(name):
        raise click.ClickException("no such active mailbox" if name else "no mailboxes")
    click.echo("waiting for mail (Ctrl-C stops)")
    watch_all(name)


COMMANDS = (mailbox_group, mail_group)
