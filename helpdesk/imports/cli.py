"""`helpdesk import customers|organizations|orders FILE.csv`: bulk loading from the shell."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

FORMATS = click.Choice(["auto", "helpdesk", "hubspot", "pipedrive", "insightly"])


@click.group("import")
def import_group() -> None:
    """Bulk-load CSV files."""


def _report(result, dry_run: bool) -> None:
    """Print an import report; exit 1 if any row was refused."""
    for line, message in result.errors:
        click.echo(f"line {line}: {message}", err=True)
    click.echo(
        f"{result.loaded} {'would load' if dry_run else 'loaded'}, {len(result.errors)} refused"
    )
    if result.kind != "orders":
        counts = ", ".join(f"{n} {outcome}" for outcome, n in result.counts.items() if n)
        click.echo(f"{result.source} file of {result.kind}: {counts or 'no rows'}")
    if result.errors:
        sys.exit(1)


def _audited(result, path: str) -> None:
    """Record a real import in the audit log."""
    from helpdesk import unit_of_work
    from helpdesk.audit.services import record

    record(
        "customers.import",
        object_type="import",
        after={"counts": result.counts, "file": path, "source": result.source, "kind": result.kind},
    )
    unit_of_work.commit()


@import_group.command("customers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "source", type=FORMATS, default="auto", help="the file's source")
@click.option("--dry-run", is_flag=True, help="check every row, write nothing")
@with_appcontext
def import_customers(path: str, source: str, dry_run: bool) -> None:
    """Load customers from CSV (ours, or a HubSpot, Pipedrive or Insightly export); bad rows
    are reported with their line number."""
    from helpdesk.imports import loader

    result = loader.import_customers(path, source, dry_run)
    if not dry_run:
        _audited(result, path)
    _report(result, dry_run)


@import_group.command("organizations")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "source", type=FORMATS, default="auto", help="the file's source")
@click.option("--dry-run", is_flag=True, help="check every row, write nothing")
@with_appcontext
def import_organizations(path: str, source: str, dry_run: bool) -> None:
    """Load organizations (companies) from CSV; bad rows are reported with their line."""
    from helpdesk.imports import loader

    result = loader.import_organizations(path, source, dry_run)
    if not dry_run:
        _audited(result, path)
    _report(result, dry_run)


@import_group.command("orders")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="check every row, write nothing")
@with_appcontext
def import_orders(path: str, dry_run: bool) -> None:
    """Load orders from CSV; bad rows are reported with their line number."""
    from helpdesk.imports import loader

    _report(loader.import_orders(path, dry_run), dry_run)


COMMANDS = (import_group,)
