"""`helpdesk import`: bulk load customers and orders from CSV."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


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
    from helpdesk.imports import loader as imports

    _report(imports.import_customers(path))


@import_group.command("orders")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_orders(path: str) -> None:
    """Load orders from CSV; bad rows are reported with their line number."""
    from helpdesk.imports import loader as imports

    _report(imports.import_orders(path))


COMMANDS = (import_group,)
