"""The call service shared by Twilio voice and the generic CTI API.

A call is a ``Call`` row (unique per provider and the provider's id, so a retry
never makes two). Ringing pops the caller's card on the screens of the agents
who may take it (``call.incoming``); every change after that is a
``call.updated``. When the call ends it is filed in the customer's history
through ``ingest``: an answered call becomes a ticket entry the agent can
annotate, a voicemail a message with its recording, a missed call a callback
ticket.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpdesk import jobs, realtime, unit_of_work
from helpdesk.agents.models import Agent
from helpdesk.channels.inbound import InboundAttachment, InboundMessage
from helpdesk.channels.models import Channel
from helpdesk.channels.twilio.common import e164
from helpdesk.customers import history
from helpdesk.customers import services as customers
from helpdesk.customers.models import Customer
from helpdesk.db import utcnow
from helpdesk.extensions import db
from helpdesk.tickets.ingest import ingest
from helpdesk.tickets.models import Call
from helpdesk.tickets.serializers import call_json

log = logging.getLogger(__name__)
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")
_RANK = {"queued": 0, "initiated": 0, "ringing": 1, "in-progress": 2}
STATUSES = (*_RANK, *FINAL)
FILE_JOB = "helpdesk.channels.phone.calls:file_call"


@dataclass
class NewCall:
    """A call about to be recorded, with the card that pops for it."""

    call: Call
    card: dict
    caller: dict
    line: dict | None
    created: bool = True


def _rank(status: str) -> int:
    """How far along a call is; final states rank highest."""
    return 3 if status in FINAL else _RANK.get(status, 0)


def _number(value: str | None) -> str | None:
    """A number as stored on a call: E.164 when it is one, else as the provider sent it."""
    return e164(value) or (value or "").strip()[:64] or None


def find(provider: str, provider_id: str) -> Call | None:
    """The call a provider knows by ``provider_id``."""
    return db.session.execute(
        select(Call).where(Call.provider == provider, Call.provider_id == provider_id)
    ).scalar_one_or_none()


def rooms(call: Call) -> list[str]:
    """Who hears about a call: the number's team (or everyone), admins, its agent; of
    account managers only those of the caller (agents.access: never an unknown caller)."""
    team_id = (call.meta or {}).get("team_id")
    found = {"admins", f"team:{team_id}" if team_id else "agents"}
    if call.agent_id:
        found.add(f"agent:{call.agent_id}")
    customer = db.session.get(Customer, call.customer_id) if call.customer_id else None
    return sorted(realtime.for_accounts(found, customer))


def prepare(
    provider: str,
    provider_id: str,
    direction: str,
    from_number: str | None,
    to_number: str | None,
    channel: Channel | None,
    caller_name: str | None = None,
    agent_id: int | None = None,
    with_card: bool = True,
    known: bool = True,
) -> NewCall:
    """Look the caller up and build the call and its card; reads only (the hot path).

    ``known=False`` skips looking for an earlier record of the call: a provider's
    retry is then caught by the unique index when the call is recorded.
    """
    existing = find(provider, provider_id) if known else None
    number = from_number if direction == "in" else to_number
    normalised = e164(number)
    customer = customers.find_by_identity("phone", normalised) if normalised else None
    # The card pops up for the line's team (or everyone): only tickets they may all open.
    card = (
        history.card(
            customer,
            {"phone": number or ""},
            line_team=channel.team_id if channel is not None else None,
        )
        if with_card
        else {}
    )
    caller = {"number": number, "e164": normalised, "name": caller_name}
    line = (
        {
            "id": channel.id,
            "name": channel.name,
            "address": channel.address,
            "team_id": channel.team_id,
        }
        if channel is not None
        else None
    )
    if existing is not None:
        return NewCall(existing, card, caller, line, created=False)
    call = Call(
        provider=provider,
        provider_id=provider_id[:100],
        direction=direction,
        from_number=_number(from_number),
        to_number=_number(to_number),
        status="ringing",
        customer_id=customer.id if customer else None,
        agent_id=agent_id,
        started_at=utcnow(),
        meta={
            "team_id": channel.team_id if channel else None,
            "channel_id": channel.id if channel else None,
            "caller_name": caller_name,
        },
    )
    return NewCall(call, card, caller, line)


def record(new: NewCall, pop: bool = True) -> NewCall:
    """Store a prepared call and pop its card after the commit; a retry finds the first."""
    if not new.created:
        return new
    try:
        with db.session.begin_nested():
            db.session.add(new.call)
    except IntegrityError:
        # The provider's retry raced us; the first request recorded and announced it.
        found = find(new.call.provider, new.call.provider_id)
        assert found is not None  # the row that won the race (every caller uses the call)
        new.call, new.created = found, False
        return new
    payload = {
        "call": call_json(new.call),
        "card": new.card,
        "caller": new.caller,
        "line": new.line,
    }
    if pop:
        realtime.emit_after_commit("call.incoming", payload, rooms(new.call))
    else:
        realtime.emit_after_commit("call.updated", {"call": payload["call"]}, rooms(new.call))
    return new


def update(
    call: Call,
    status: str | None = None,
    *,
    answered: bool = False,
    agent_id: int | None = None,
    duration: int | None = None,
    recording_url: str | None = None,
) -> bool:
    """Move a call forward (never back); announce it, and file it once it has ended."""
    now, changed = utcnow(), False
    was_final = call.status in FINAL
    if answered and call.answered_at is None and not was_final:
        call.answered_at, changed = now, True
        call.agent_id = call.agent_id or agent_id
        if _rank(call.status) < _rank("in-progress"):
            call.status = "in-progress"
    if status and _rank(status) > _rank(call.status):
        call.status, changed = status, True
        if status in FINAL:
            call.ended_at = now
            if duration is None and call.answered_at is not None:
                duration = int((now - call.answered_at).total_seconds())
    if (
        duration is not None
        and duration >= 0
        and call.duration != duration
        and call.status in FINAL
    ):
        call.duration, changed = duration, True
    if recording_url and call.recording_url != recording_url[:1000]:
        call.recording_url, changed = recording_url[:1000], True
    if not changed:
        return False
    db.session.flush()
    realtime.emit_after_commit("call.updated", {"call": call_json(call)}, rooms(call))
    if call.status in FINAL and not was_final:
        jobs.enqueue(FILE_JOB, call.id)
    return True


def take_over(call: Call, agent_id: int) -> None:
    """Another agent took the answered call (a transfer): it is theirs now, so the first
    agent is free for the next call."""
    call.agent_id = agent_id
    db.session.flush()
    realtime.emit_after_commit("call.updated", {"call": call_json(call)}, rooms(call))


def record_voicemail(
    call: Call, recording_url: str, recording_sid: str | None, seconds: int | None
) -> bool:
    """Keep the voicemail a caller left; it is filed as a message with its recording."""
    if (call.meta or {}).get("voicemail"):
        return False
    call.meta = {
        **(call.meta or {}),
        "voicemail": {"url": recording_url[:1000], "sid": recording_sid, "seconds": seconds},
    }
    update(call, recording_url=recording_url)
    jobs.enqueue(FILE_JOB, call.id)
    return True


def _who(call: Call, number: str | None) -> str:
    """The caller as a person would name them."""
    customer = db.session.get(Customer, call.customer_id) if call.customer_id else None
    return (
        (customer.name if customer is not None and customer.name else None)
        or number
        or "an unknown caller"
    )


def _entry(call: Call, voicemail: bool) -> InboundMessage | None:
    """What the call adds to the customer's history, if anything."""
    number = call.from_number if call.direction == "in" else call.to_number
    who = _who(call, number)
    base: dict[str, Any] = dict(
        channel="voice",
        sender_kind="phone",
        sender=number or "",
        channel_id=(call.meta or {}).get("channel_id"),
        received_at=call.started_at,
        sender_name=(call.meta or {}).get("caller_name"),
    )
    if voicemail:
        mail = call.meta["voicemail"]
        url = mail["url"] if mail["url"].rsplit("/", 1)[-1].count(".") else mail["url"] + ".mp3"
        return InboundMessage(
            **base,
            subject=f"Voicemail from {who}",
            external_id=f"{call.provider}:{call.provider_id}:voicemail",
            meta={"call_id": call.id, "call": "voicemail"},
            text=f"Voicemail from {number or 'an unknown number'}"
            + (f" ({mail['seconds']} s)." if mail.get("seconds") is not None else "."),
            attachments=[
                InboundAttachment(
                    filename="voicemail.mp3", content_type="audio/mpeg", source_url=url
                )
            ],
        )
    external_id = f"{call.provider}:{call.provider_id}"
    if call.answered_at is not None:
        agent = db.session.get(Agent, call.agent_id) if call.agent_id else None
        minutes, seconds = divmod(call.duration or 0, 60)
        way = "from" if call.direction == "in" else "to"
        text = (
            f"Phone call {way} {number or 'an unknown number'}"
            f"{' with ' + agent.name if agent else ''}, {minutes}:{seconds:02d} min."
        )
        return InboundMessage(
            **base,
            subject=f"Phone call with {who}",
            text=text,
            external_id=external_id,
            meta={"call_id": call.id, "call": "answered"},
        )
    if call.direction != "in":
        return None  # our own unanswered call: the Call row in the timeline says enough
    return InboundMessage(
        **base,
        subject=f"Callback: missed call from {who}",
        external_id=external_id,
        text=f"Missed call from {number or 'an unknown number'} ({call.status}): please call back.",
        meta={"call_id": call.id, "call": "missed", "callback": True},
    )


def file_call(call_id: int) -> None:
    """Job: file an ended call, or a voicemail, in the customer's history; at most once each."""
    call = db.session.get(Call, call_id)
    if call is None:
        return
    mail = (call.meta or {}).get("voicemail")
    if mail and not mail.get("filed"):
        entry, marker = _entry(call, voicemail=True), "voicemail"
    elif call.status in FINAL and call.ticket_id is None and not mail:
        entry, marker = _entry(call, voicemail=False), "call"
    else:
        return
    db.session.commit()  # reads only so far; ingest takes its own write transaction
    if entry is None:
        return
    result = ingest(entry)
    with unit_of_work.writing():
        call = db.session.get(Call, call_id)
        assert call is not None  # None would fail on the next line anyway
        call.ticket_id = call.ticket_id or result.ticket.id
        call.customer_id = call.customer_id or result.customer.id
        if marker == "voicemail":
            call.meta = {**call.meta, "voicemail": {**call.meta["voicemail"], "filed": True}}
        db.session.flush()
        realtime.emit_after_commit("call.updated", {"call": call_json(call)}, rooms(call))
        unit_of_work.commit()
    log.info("call %s filed as %s on ticket %s", call_id, marker, result.ticket.id)
