"""The generic CTI API for phone systems other than Twilio (a PBX, a softphone).

``POST /api/v1/cti/events`` (JSON or form, Bearer token) with ``event`` =
``newCall`` | ``answer`` | ``hangup``, ``callId``, ``from``, ``to``,
``direction`` = ``in`` | ``out``, optional ``user`` and ``cause``. It drives the
same Call records, screen pops and history as Twilio; ``newCall`` answers with
the caller's customer card.

Only tokens of scope ``cti`` are accepted (a phone system's own token, not an agent's).
The card it answers shows what the agent named in ``user`` may open (agents.access);
with nobody named, what the phone line's team may open, as the screen pop does.
"""

from __future__ import annotations

from typing import Annotated, Literal

from flask import g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import func, or_, select

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.agents.models import Agent
from helpdesk.channels.phone import calls
from helpdesk.channels.twilio.common import phone_channel
from helpdesk.customers import history
from helpdesk.customers.models import Customer
from helpdesk.errors import HelpdeskError, Invalid
from helpdesk.extensions import db
from helpdesk.tickets.schemas import CallEventOut, NewCallOut
from helpdesk.tickets.serializers import call_json
from helpdesk.web.api import api_blueprint, parse_body
from helpdesk.web.args import MAX_ID
from helpdesk.web.openapi import documented

PROVIDER = "cti"
bp = api_blueprint("cti_api", __name__, scope="cti")
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
# Hang-up causes as PBXes report them (Zammad's CTI names), and what the call became.
CAUSES = {
    "normalclearing": "completed",
    "forwarded": "completed",
    "busy": "busy",
    "cancel": "canceled",
    "noanswer": "no-answer",
    "congestion": "failed",
    "notfound": "failed",
    "rejected": "busy",
}


class CtiEvent(BaseModel):
    """One event from a phone system. Unknown fields are ignored: PBXes add their own."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    event: Literal["newCall", "answer", "hangup"]
    call_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = Field(alias="callId")
    from_: Text | None = Field(default=None, alias="from")
    to: Text | None = None
    direction: Literal["in", "out"] = "in"
    user: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)]
        | list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)]]
        | None
    ) = None
    cause: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None


def _event() -> CtiEvent:
    """The event from a JSON or form body; 4xx for anything else."""
    if request.mimetype == "application/json":
        return parse_body(CtiEvent)
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise HelpdeskError("send JSON or a form", code="unsupported_media_type")
    data = {
        key.removesuffix("[]"): values if len(values) > 1 else values[0]
        for key, values in request.form.lists()
    }
    try:
        return CtiEvent.model_validate(data)
    except ValidationError as exc:
        fields = {
            ".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()
        }
        raise Invalid("the event has invalid fields", fields=fields) from exc


def _agent(user) -> Agent | None:
    """The active agent a PBX names (id, email or name; the first of a list), if known."""
    name = (user[0] if isinstance(user, list) and user else user) or ""
    if not name or not isinstance(name, str):
        return None
    condition = or_(func.lower(Agent.email) == name.lower(), func.lower(Agent.name) == name.lower())
    if name.isascii() and name.isdigit() and len(name) <= 10 and 0 < int(name) <= MAX_ID:
        condition = or_(condition, Agent.id == int(name))
    return (
        db.session.execute(
            select(Agent).where(condition, Agent.active.is_(True)).order_by(Agent.id).limit(1)
        )
        .unique()
        .scalar_one_or_none()
    )


def _call(event: CtiEvent, agent_id: int | None) -> calls.NewCall:
    """The call an event is about; one first heard of mid-call is recorded then."""
    ours = event.to if event.direction == "in" else event.from_
    return calls.prepare(
        PROVIDER,
        event.call_id,
        event.direction,
        event.from_,
        event.to,
        phone_channel(ours),
        agent_id=agent_id,
        with_card=event.event == "newCall",
    )


@bp.post("/cti/events")
@documented((NewCallOut, CallEventOut), status=201, also=[200], body=CtiEvent, form=True)
def cti_event():
    """Apply one PBX event; ``newCall`` answers with the caller's card."""
    event = _event()
    agent = _agent(event.user)
    agent_id = agent.id if agent is not None else None
    new = _call(event, agent_id)
    with unit_of_work.write_phase():
        new = calls.record(new, pop=event.event == "newCall" and event.direction == "in")
        call = new.call
        if event.event == "answer":
            calls.update(call, answered=True, agent_id=agent_id)
        elif event.event == "hangup":
            cause = (event.cause or "normalClearing").replace("_", "").lower()
            status = "completed" if call.answered_at is not None else CAUSES.get(cause, "failed")
            if status == "completed" and call.answered_at is None:
                status = "no-answer"  # cleared normally, but nobody picked up: missed
            calls.update(call, status)
        unit_of_work.commit()
    if event.event == "newCall":
        card = new.card  # what the line's team may open: the screen pop's card
        customer = db.session.get(Customer, call.customer_id) if call.customer_id else None
        if agent is not None:  # the agent taking the call: what they may open
            card = history.card(customer, card.get("query"), viewer=agent)
        if g.agent.own_accounts_only:  # the token's own agent an account manager: theirs only
            card = history.card(
                customer if access.can_see_customer(g.agent, customer) else None,
                card.get("query"),
                viewer=agent or g.agent,
            )
        return jsonify(
            {**card, "call": _call_json(call), "caller": new.caller}
        ), 201 if new.created else 200
    return jsonify({"call": _call_json(call)})


def _call_json(call) -> dict:
    """The call as the token's agent may see it: an account manager's token gets another
    account's call as an unknown caller's (no customer, no ticket)."""
    shown = call_json(call)
    if not access.can_see_call(g.agent, call):
        shown.update(customer_id=None, ticket_id=None)
    return shown
