"""Click-to-call and the recordings of answered calls, over Twilio.

An agent's browser places a call with the Voice SDK (``Device.connect`` with the params
``To`` and ``customer``); Twilio asks the TwiML App's voice URL
(``/webhooks/twilio/voice/outbound``) what to do. The answer dials the customer's
number with the agent's team's number as caller id, but only a number of a customer
the agent may see (agents.access: NotFound otherwise, nothing recorded). The call is
recorded like an incoming one (a ``Call``, direction ``out``, on the customer's
timeline), once per CallSid; its status callbacks move it along.

Every <Dial> to an agent or a customer records the answered call (``voice.dial_options``);
Twilio announces each finished recording at ``/webhooks/twilio/voice/recording``,
kept and filed by ``phone.recordings``.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from twilio.twiml.voice_response import VoiceResponse

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.agents.models import Agent, team_members
from helpdesk.channels.models import Channel
from helpdesk.channels.phone import calls, recordings
from helpdesk.channels.twilio import voice
from helpdesk.channels.twilio.common import PHONE, e164
from helpdesk.customers import services as customers
from helpdesk.customers.models import Customer
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.extensions import db

PATH = "/webhooks/twilio/voice/outbound"
RING_SECONDS = 30  # how long the customer's phone rings


def team_line(agent: Agent) -> Channel | None:
    """The phone line of the agent's (first) team, else a line of no team."""
    teams = select(team_members.c.team_id).where(team_members.c.agent_id == agent.id)
    return db.session.execute(
        select(Channel)
        .where(
            Channel.kind == PHONE,
            Channel.active.is_(True),
            Channel.team_id.in_(teams) | Channel.team_id.is_(None),
        )
        .order_by(Channel.team_id.is_(None), Channel.id)
        .limit(1)
    ).scalar_one_or_none()


def _int(value: str | None) -> int | None:
    """A whole number from the request, or None."""
    return int(value) if value is not None and value.strip().isdigit() else None


def target(agent: Agent, customer_id: int | None, number: str | None) -> tuple[Customer, str]:
    """The customer ``agent`` calls and their number in E.164: NotFound for a customer the
    agent may not see or a number that is not that customer's."""
    customer = access.visible_customer(
        agent, db.session.get(Customer, customer_id) if customer_id else None
    )
    normalised = e164(number)
    owner = customers.find_by_identity("phone", normalised) if normalised else None
    if normalised is None or owner is None or owner.id != customer.id:
        raise NotFound("no such number of this customer", fields={"To": "not the customer's"})
    return customer, normalised


def twiml(number: str, caller_id: str) -> VoiceResponse:
    """Dial the customer's number from our number, recorded; the customer's leg tells the
    status webhook when it is answered and when it ends."""
    response = VoiceResponse()
    dial = response.dial(caller_id=caller_id, **{**voice.dial_options(), "timeout": RING_SECONDS})
    dial.number(
        number,
        status_callback=voice.STATUS_PATH,
        status_callback_event="answered completed",
        status_callback_method="POST",
    )
    return response


def dial(form) -> VoiceResponse:
    """The TwiML App's answer to an agent's call from the browser: record the call on
    the customer's timeline (once per CallSid) and dial the customer."""
    sid = (form.get("CallSid") or "").strip()
    if not sid:
        raise Invalid("CallSid is missing", fields={"CallSid": "required"})
    agent_id = voice.agent_of(form.get("From") or form.get("Caller"))
    agent = db.session.get(Agent, agent_id) if agent_id is not None else None
    if agent is None or not agent.active:
        raise NotFound("no such agent", fields={"From": "not an agent's softphone"})
    _customer, number = target(agent, _int(form.get("customer")), form.get("To"))
    line = team_line(agent)
    caller_id = line.address if line is not None else e164(current_app.config.get("TWILIO_NUMBER"))
    if not caller_id:
        raise Conflict(_("No phone number to call from."), fields={"callerId": "no number"})
    new = calls.prepare(
        voice.PROVIDER, sid, "out", caller_id, number, line, agent_id=agent.id, with_card=False
    )
    with unit_of_work.write_phase():
        calls.record(new, pop=False)
        unit_of_work.commit()
    return twiml(number, caller_id)


def recording(form) -> VoiceResponse:
    """A finished recording of a dialled call: keep it and file it in the call's ticket."""
    sid = (form.get("CallSid") or "").strip()
    if not sid:
        raise Invalid("CallSid is missing", fields={"CallSid": "required"})
    call = calls.find(voice.PROVIDER, sid)
    state = (form.get("RecordingStatus") or "completed").strip().lower()
    if call is not None and state == "completed":
        recordings.received(
            call,
            form.get("RecordingUrl") or "",
            form.get("RecordingSid"),
            _int(form.get("RecordingDuration")),
        )
    return VoiceResponse()
