"""Setting SLAs up: policies, a team's business hours and where its escalations go.

Leads and admins manage policies (they apply to every team; a policy may be narrowed
to a priority, a channel or an organization). A team's calendar and escalation team
are changed by the team's leads and by admins. After any change the open tickets
concerned get their due times computed again by a job (``sla.reapply``), so the inbox
and the board show the new targets; breaches already escalated stay escalated.
"""

from __future__ import annotations

from sqlalchemy import select

from helpdesk import jobs
from helpdesk.agents.models import Agent, Team
from helpdesk.audit import services as audit
from helpdesk.customers.models import Organization
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.sla import clocks as sla
from helpdesk.sla.business_hours import CalendarError, validate
from helpdesk.sla.models import SlaPolicy

TARGET_FIELDS = ("first_response_minutes", "next_response_minutes", "resolution_minutes")
FIELDS = ("name", "priority", "channel", "organization") + TARGET_FIELDS


def policy_json(policy: SlaPolicy) -> dict:
    """A policy as the API shows it."""
    return {
        "id": policy.id,
        "name": policy.name,
        "priority": policy.priority,
        "channel": policy.channel,
        "organization": policy.organization_id,
        **{field: getattr(policy, field) for field in TARGET_FIELDS},
        "created_at": policy.created_at.isoformat() if policy.created_at else None,
    }


def _audited(policy: SlaPolicy) -> dict:
    """A policy's settings as the audit log keeps them."""
    return {k: v for k, v in policy_json(policy).items() if k not in ("id", "created_at")}


def team_json(team: Team) -> dict:
    """A team's SLA settings."""
    return {
        "id": team.id,
        "name": team.name,
        "assignment": team.assignment,
        "calendar": team.calendar,
        "escalation_team": team.escalation_team_id,
    }


def record_team_change(team: Team, before: dict) -> None:
    """Audit what changed of the team's settings since ``before`` (its team_json)."""
    old, new = audit.changes(before, team_json(team))
    if old or new:
        audit.record("team.update", object_type="team", object_id=team.id, before=old, after=new)


def _may_manage(actor: Agent | None) -> None:
    """Only leads and admins set SLAs (``actor`` None: the command line)."""
    if actor is not None and actor.role not in ("lead", "admin"):
        raise Forbidden("only leads and admins manage SLA policies")


def _apply(policy: SlaPolicy, data: dict) -> None:
    """Copy validated fields onto the policy; one target at least must remain."""
    if "organization" in data:
        org_id = data["organization"]
        if org_id is not None and db.session.get(Organization, org_id) is None:
            raise Invalid("no such organization", fields={"organization": "unknown id"})
        policy.organization_id = org_id
    for field in ("name", "priority", "channel") + TARGET_FIELDS:
        if field in data:
            setattr(policy, field, data[field])
    if all(getattr(policy, field) is None for field in TARGET_FIELDS):
        raise Invalid(
            "a policy needs at least one target",
            fields={field: "all empty" for field in TARGET_FIELDS},
        )
    clash = db.session.execute(
        select(SlaPolicy.id).where(SlaPolicy.name == policy.name, SlaPolicy.id != (policy.id or 0))
    ).first()
    if clash:
        raise Conflict("a policy with this name exists", fields={"name": "taken"})


def create(data: dict, actor: Agent | None) -> SlaPolicy:
    """A new policy; flushes and queues the re-computation of open tickets."""
    _may_manage(actor)
    policy = SlaPolicy()
    _apply(policy, data)
    db.session.add(policy)
    db.session.flush()
    jobs.enqueue(sla.REAPPLY_JOB)
    audit.record(
        "sla_policy.create", object_type="sla_policy", object_id=policy.id, after=_audited(policy)
    )
    return policy


def get(policy_id: int) -> SlaPolicy:
    """A policy, or 404."""
    policy = db.session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound("no such SLA policy")
    return policy


def update(policy_id: int, changes: dict, actor: Agent | None) -> SlaPolicy:
    """Change a policy; flushes and queues the re-computation of open tickets."""
    _may_manage(actor)
    policy = get(policy_id)
    before = _audited(policy)
    _apply(policy, changes)
    db.session.flush()
    old, new = audit.changes(before, _audited(policy))
    audit.record(
        "sla_policy.update", object_type="sla_policy", object_id=policy.id, before=old, after=new
    )
    jobs.enqueue(sla.REAPPLY_JOB)
    return policy


def delete(policy_id: int, actor: Agent | None) -> None:
    """Remove a policy; its tickets take the next matching one (or none)."""
    _may_manage(actor)
    policy = get(policy_id)
    audit.record(
        "sla_policy.delete", object_type="sla_policy", object_id=policy.id, before=_audited(policy)
    )
    db.session.delete(policy)
    db.session.flush()
    jobs.enqueue(sla.REAPPLY_JOB)


def _may_change_team(team: Team, actor: Agent | None) -> None:
    """Admins, and leads of the team (``actor`` None: the command line)."""
    if actor is None or actor.is_admin:
        return
    if actor.role != "lead" or team.id not in actor.team_ids:
        raise Forbidden("only the team's leads and admins change its hours")


def set_calendar(team: Team, calendar: dict | None, actor: Agent | None = None) -> None:
    """Set (or with None remove) the team's business hours; flushes and re-computes."""
    _may_change_team(team, actor)
    try:
        team.calendar = validate(calendar)
    except CalendarError as exc:
        raise Invalid(str(exc), fields={"calendar": str(exc)}) from None
    db.session.flush()
    jobs.enqueue(sla.REAPPLY_JOB, team.id)


def set_escalation_team(team: Team, other: Team | None, actor: Agent | None = None) -> None:
    """Where the team's escalations go (None: to the team's own lead)."""
    _may_change_team(team, actor)
    if other is not None and other.id == team.id:
        raise Invalid("a team cannot escalate to itself", fields={"escalation_team": "same team"})
    team.escalation_team_id = other.id if other is not None else None
    db.session.flush()
