"""``helpdesk retention run``: drop raw sources past the retention period now."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext


@click.group("retention")
def retention_group() -> None:
    """Raw mail sources and webhook bodies past HELPDESK_RAW_RETENTION_DAYS."""


@retention_group.command("run")
@with_appcontext
def retention_run() -> None:
    """Drop the raw sources older than the retention period now; print the counts."""
    from helpdesk.audit import retention

    click.echo(json.dumps(retention.run()))


COMMANDS = (retention_group,)
