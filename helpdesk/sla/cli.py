"""`helpdesk sla`: SLA policies from the command line."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from helpdesk.extensions import db


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
def sla_add(
    name, priority, channel, organization, first_response, next_response, resolution
) -> None:
    """Add a policy; the most specific matching one applies (organization, channel, priority)."""
    from helpdesk import unit_of_work
    from helpdesk.errors import HelpdeskError
    from helpdesk.sla import policies as sla_policies

    data = {
        "name": name,
        "priority": priority,
        "channel": channel,
        "organization": organization,
        "first_response_minutes": first_response,
        "next_response_minutes": next_response,
        "resolution_minutes": resolution,
    }
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
    from helpdesk.sla import policies as sla_policies
    from helpdesk.sla.models import SlaPolicy

    for policy in db.session.execute(select(SlaPolicy).order_by(SlaPolicy.id)).scalars():
        click.echo(json.dumps(sla_policies.policy_json(policy)))


@sla_group.command("remove")
@click.argument("name")
@with_appcontext
def sla_remove(name: str) -> None:
    """Remove the policy called NAME."""
    from helpdesk import unit_of_work
    from helpdesk.sla import policies as sla_policies
    from helpdesk.sla.models import SlaPolicy

    policy = db.session.execute(select(SlaPolicy).where(SlaPolicy.name == name)).scalar()
    if policy is None:
        raise click.ClickException(f"no policy called {name!r}")
    sla_policies.delete(policy.id, None)
    unit_of_work.commit()
    click.echo(f"removed {name}")


COMMANDS = (sla_group,)
