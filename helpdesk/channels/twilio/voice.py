"""Voice over Twilio: answer incoming calls with TwiML, pop the caller's card, route
the call to the online agents of the number's team, queue it, or take a voicemail;
then follow the call's lifecycle from Twilio's callbacks.

The incoming-call webhook is the hot path: a handful of indexed reads, one
insert, the TwiML. Filing the call in history happens in a job after it ends.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import and_, exists, or_, select
from twilio.twiml.voice_response import Dial, VoiceResponse

from helpdesk import unit_of_work
from helpdesk.agents import access
from helpdesk.agents.models import Agent, team_members
from helpdesk.channels.models import Channel
from helpdesk.channels.phone import calls
from helpdesk.channels.twilio.common import phone_channel
from helpdesk.customers.models import Customer
from helpdesk.db import utcnow
from helpdesk.errors import Invalid
from helpdesk.extensions import db
from helpdesk.tickets.models import Call

PROVIDER = "twilio"
STATUS_PATH = "/webhooks/twilio/voice/status"
RECORDING_PATH = "/webhooks/twilio/voice/recording"
MAX_DIAL = 10  # Twilio rings at most ten <Client> nouns in one <Dial>
RING_SECONDS = 20
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(
    r"^(?P<days>[a-z]{3}(-[a-z]{3})?|daily)\s+"
    r"(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)
DEFAULTS = {
    "greeting": "Thank you for calling. Please hold while we connect you.",
    "closed": "We are closed right now.",
    "voicemail": "Please leave a message after the tone, and we will call you back.",
    "goodbye": "Thank you. Goodbye.",
}


@dataclass(frozen=True)
class Opening:
    """One stretch of business hours: days of the week (0 = Monday) and a time range."""

    days: frozenset[int]
    start: time
    end: time


def parse_hours(spec: str) -> list[Opening]:
    """``"mon-fri 09:00-17:00, sat 10:00-14:00"`` as Openings; Invalid names the bad part."""
    openings = []
    for part in filter(None, (p.strip().lower() for p in re.split(r"[,;]", spec or ""))):
        match = _HOURS.match(part)
        days: range | list[int]
        try:
            if match is None:
                raise ValueError(part)
            if match["days"] == "daily":
                days = range(7)
            else:
                first, _, last = match["days"].partition("-")
                a, b = DAYS.index(first), DAYS.index(last or first)
                days = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
            start, end = (time.fromisoformat(match[k].zfill(5)) for k in ("start", "end"))
        except ValueError:
            raise Invalid(
                f"business hours must look like 'mon-fri 09:00-17:00': {part!r}",
                fields={"hours": part},
            ) from None
        openings.append(Opening(frozenset(days), start, end))
    return openings


def is_open(settings: dict, now: datetime | None = None) -> bool:
    """Whether the number's business hours (``settings["hours"]``) include ``now``."""
    if not settings.get("hours"):
        return True  # no hours set: the line is always staffed
    try:
        zone = ZoneInfo(settings.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = (now or utcnow()).astimezone(zone)
    return any(
        local.weekday() in o.days and o.start <= local.time() < o.end
        for o in parse_hours(settings["hours"])
    )


def identity(agent_id: int) -> str:
    """The Twilio Client identity of an agent's softphone."""
    return f"agent_{agent_id}"


def agent_of(address: str | None) -> int | None:
    """The agent id behind ``client:agent_<id>``, if that is what ``address`` is."""
    match = re.fullmatch(r"client:agent_(\d+)", (address or "").strip())
    return int(match.group(1)) if match else None


def online_agents(
    team_id: int | None, managers: Collection[int] = ()
) -> tuple[list[tuple[int, str | None]], bool]:
    """The number's team's online agents who are not on a call, each with their own phone
    number (None: their browser rings); and whether any are online. Account managers
    only when the caller is theirs (``managers``: agents.access)."""
    busy = exists().where(and_(Call.agent_id == Agent.id, Call.status == "in-progress"))
    query = (
        select(Agent.id, Agent.phone, busy.label("busy"))
        .where(
            Agent.presence == "online",
            Agent.active.is_(True),
            or_(Agent.own_accounts_only.is_(False), Agent.id.in_(sorted(managers))),
        )
        .order_by(Agent.id)
    )
    if team_id is not None:
        query = query.join(team_members, team_members.c.agent_id == Agent.id).where(
            team_members.c.team_id == team_id
        )
    rows = db.session.execute(query).all()
    return [(row.id, row.phone) for row in rows if not row.busy], bool(rows)


def dial_options() -> dict:
    """The attributes of every <Dial> that connects a caller with an agent: its outcome
    comes back to the status webhook, and (``TWILIO_RECORD_CALLS=1``; off by default) the
    answered call is recorded, both parties, the recording announced to the recording
    webhook once Twilio has it."""
    options: dict = dict(
        timeout=RING_SECONDS, action=STATUS_PATH, method="POST", answer_on_bridge=True
    )
    if current_app.config.get("TWILIO_RECORD_CALLS", False):
        options.update(
            record="record-from-answer-dual",
            recording_status_callback=RECORDING_PATH,
            recording_status_callback_event="completed",
            recording_status_callback_method="POST",
        )
    return options


def ring(dial: Dial, agent_id: int, phone: str | None) -> None:
    """One agent's noun in a <Dial>: their own phone as a <Number>, else their browser
    softphone as a <Client>. Who picks up comes back to the status webhook (a number's
    callback names the agent in its URL: the leg's To is only the number)."""
    if phone:
        dial.number(
            phone,
            status_callback=f"{STATUS_PATH}?agent={agent_id}",
            status_callback_event="answered",
            status_callback_method="POST",
        )
    else:
        dial.client(
            identity(agent_id),
            status_callback=STATUS_PATH,
            status_callback_event="answered",
            status_callback_method="POST",
        )


def _say(response: VoiceResponse, settings: dict, key: str) -> None:
    """Speak one of the number's prompts, in its language when one is set."""
    text = settings.get(key) or DEFAULTS[key]
    response.say(text, language=settings["language"]) if settings.get("language") else response.say(
        text
    )


def voicemail(response: VoiceResponse, settings: dict) -> VoiceResponse:
    """Take a message; the recording comes back to the status webhook."""
    _say(response, settings, "voicemail")
    response.record(action=STATUS_PATH, method="POST", max_length=180, timeout=5, play_beep=True)
    # Reached only when nothing was recorded (Twilio then skips the action).
    _say(response, settings, "goodbye")
    response.hangup()
    return response


def answer(channel: Channel | None, managers: Collection[int] = ()) -> VoiceResponse:
    """The TwiML for a new call: greet, then ring agents (account managers only among
    ``managers``, the caller's), queue, or take a voicemail."""
    settings = dict(channel.settings or {}) if channel is not None else {}
    response = VoiceResponse()
    if not is_open(settings):
        _say(response, settings, "closed")
        return voicemail(response, settings)
    team_id = channel.team_id if channel is not None else None
    available, anyone_online = online_agents(team_id, managers)
    _say(response, settings, "greeting")
    if available:
        dial = response.dial(**dial_options())
        for agent_id, phone in available[:MAX_DIAL]:
            ring(dial, agent_id, phone)
    elif anyone_online:
        response.enqueue(f"team-{team_id or 0}", action=STATUS_PATH, method="POST")
    else:
        voicemail(response, settings)
    return response


def _direction(value: str | None) -> str:
    """Twilio's Direction as ours: ``inbound`` is in, ``outbound-*`` is out."""
    return "out" if (value or "").startswith("outbound") else "in"


def incoming(form, pop: bool = True) -> tuple[calls.NewCall, VoiceResponse]:
    """Record a new call, commit, pop the caller's card (unless ``pop`` is False: a call
    handled from the spool is over); return it with the TwiML answer."""
    sid = (form.get("CallSid") or "").strip()
    if not sid:
        raise Invalid("CallSid is missing", fields={"CallSid": "required"})
    channel = phone_channel(form.get("To"))
    caller_name = (form.get("CallerName") or "").strip()[:200] or None
    new = calls.prepare(
        PROVIDER,
        sid,
        _direction(form.get("Direction")),
        form.get("From"),
        form.get("To"),
        channel,
        caller_name,
        known=False,
    )
    caller = db.session.get(Customer, new.call.customer_id) if new.call.customer_id else None
    response = answer(channel, access.managers(caller))
    # Like ingest, this owns its transaction: the reads above stay outside the write lock.
    with unit_of_work.write_phase():
        calls.record(new, pop=pop and new.call.direction == "in")
        unit_of_work.commit()
    return new, response


def answer_without_database(form, incoming: bool) -> VoiceResponse:
    """The TwiML while the database is down (the request is spooled): a new call, or a
    <Dial>/<Enqueue> nobody answered, takes a message; a recording ends politely."""
    response = VoiceResponse()
    dialled, queued = form.get("DialCallStatus"), form.get("QueueResult")
    if incoming or (
        (dialled or queued) and dialled != "completed" and queued not in ("bridged", "hangup")
    ):
        return voicemail(response, {})
    if (
        dialled
        or queued
        or (form.get("RecordingUrl") and form.get("CallStatus") not in calls.FINAL)
    ):
        if form.get("RecordingUrl"):
            _say(response, {}, "goodbye")
        response.hangup()
    return response


def _int(value: str | None) -> int | None:
    """A whole number Twilio sent, or None."""
    return int(value) if value is not None and value.strip().isdigit() else None


def status(form, agent: str | None = None) -> VoiceResponse:
    """Apply a call status callback, a <Dial>/<Enqueue> outcome or a recording (``agent``:
    the id in the callback URL of a leg that rang an agent's own phone)."""
    response = VoiceResponse()
    sid = (form.get("CallSid") or "").strip()
    parent = (form.get("ParentCallSid") or "").strip()
    if parent:  # a leg we rang: who picked up; of our own call, the customer's leg
        call = calls.find(PROVIDER, parent)
        if call is not None:
            _leg(call, sid, form, agent)
        return response
    if not sid:
        raise Invalid("CallSid is missing", fields={"CallSid": "required"})
    call = calls.find(PROVIDER, sid)
    if call is None:  # a call we did not see ring (placed elsewhere): keep it all the same
        channel = phone_channel(form.get("To")) or phone_channel(form.get("From"))
        call = calls.record(
            calls.prepare(
                PROVIDER,
                sid,
                _direction(form.get("Direction")),
                form.get("From"),
                form.get("To"),
                channel,
                with_card=False,
            ),
            pop=False,
        ).call
    settings = number_settings(call)
    dialled, queued = form.get("DialCallStatus"), form.get("QueueResult")
    if dialled or queued:
        if dialled == "completed" or queued == "bridged":
            calls.update(call, answered=True)
            response.hangup()
        elif call.direction == "out":  # our own call, not answered: no voicemail of ours
            calls.update(call, dialled if dialled in calls.STATUSES else None)
            response.hangup()
        elif queued != "hangup" and call.status not in calls.FINAL:
            voicemail(response, settings)  # nobody answered
        return response
    recording = (form.get("RecordingUrl") or "").strip()
    if recording and call.answered_at is None:
        calls.record_voicemail(
            call, recording, form.get("RecordingSid"), _int(form.get("RecordingDuration"))
        )
        if form.get("CallStatus") not in calls.FINAL:  # the <Record> action: end politely
            _say(response, settings, "goodbye")
            response.hangup()
    call_status = (form.get("CallStatus") or "").strip().lower()
    if call.direction == "out" and {"hold", "moved"} & set(call.meta or {}):
        call_status = ""  # the agent's leg ended, the customer is on hold or moved on
    calls.update(
        call,
        call_status if call_status in calls.STATUSES else None,
        duration=_int(form.get("CallDuration")),
        recording_url=recording or None,
    )
    return response


def _leg(call: Call, sid: str, form, agent: str | None) -> None:
    """A status of a leg we dialled for ``call``: an agent (or, of our own outgoing
    call, the customer) picked up; our own call's customer leg also ends the call."""
    leg_status = (form.get("CallStatus") or "").strip().lower()
    if leg_status == "in-progress":
        who = _agent(form.get("To"), agent)
        if call.answered_at is not None and who is not None and who != call.agent_id:
            calls.take_over(call, who)  # transferred: the call is the new agent's now
        calls.update(call, answered=True, agent_id=who)
        if call.direction == "out" and (call.meta or {}).get("leg") is None:
            call.meta = {**(call.meta or {}), "leg": sid[:64]}  # what hold moves
    elif call.direction == "out" and leg_status in calls.FINAL:
        calls.update(call, leg_status, duration=_int(form.get("CallDuration")))


def _agent(address: str | None, named: str | None = None) -> int | None:
    """The agent id of a softphone identity (or ``named``, an id from the callback URL),
    if such an agent exists."""
    agent_id = agent_of(address) if _int(named) is None else _int(named)
    return agent_id if agent_id is not None and db.session.get(Agent, agent_id) else None


def number_settings(call: Call) -> dict:
    """The settings of the number the call came in on."""
    channel_id = (call.meta or {}).get("channel_id")
    channel = db.session.get(Channel, channel_id) if channel_id else None
    return dict(channel.settings or {}) if channel is not None else {}
