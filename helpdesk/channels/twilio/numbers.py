"""Phone numbers: a ``Channel(kind="phone")`` per Twilio number, whose SMS and calls go to
a team. ``settings`` holds the business hours, their time zone, the prompts' language and
the greeting. ``helpdesk phone add`` and ``/settings/phone-numbers`` both save through here."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy import select

from helpdesk.audit import services as audit
from helpdesk.channels.models import Channel
from helpdesk.channels.twilio.common import PHONE
from helpdesk.channels.twilio.voice import parse_hours
from helpdesk.customers.identities import InvalidIdentity, normalise_phone
from helpdesk.errors import Invalid
from helpdesk.extensions import db

KEEP = object()  # save_number(team=KEEP): the number keeps its team
OPTIONS = ("hours", "timezone", "language", "greeting")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def numbers() -> list[Channel]:
    """Every phone number, in the order they were added."""
    query = select(Channel).where(Channel.kind == PHONE).order_by(Channel.id)
    return list(db.session.execute(query).unique().scalars())


def find(number: str) -> Channel | None:
    """The phone channel of ``number`` (any way of writing it), if there is one."""
    try:
        address = normalise_phone(number)
    except InvalidIdentity:
        return None
    query = select(Channel).where(Channel.kind == PHONE, Channel.address == address)
    return db.session.execute(query).unique().scalar_one_or_none()


def clean_options(options: dict) -> dict:
    """The number's hours, time zone, language and greeting, checked; blanks dropped."""
    cleaned = {k: (options.get(k) or "").strip() for k in OPTIONS}
    if cleaned["hours"]:
        parse_hours(cleaned["hours"])  # Invalid names the bad part
    if cleaned["timezone"]:
        try:
            ZoneInfo(cleaned["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise Invalid(
                _("Unknown time zone %(zone)s.", zone=cleaned["timezone"]),
                fields={"timezone": "unknown"},
            ) from exc
    if cleaned["language"] and not _LANGUAGE.fullmatch(cleaned["language"]):
        raise Invalid(_("A language is written like de-DE."), fields={"language": "bad"})
    if len(cleaned["greeting"]) > 500:
        raise Invalid(_("The greeting is longer than 500 characters."), fields={"greeting": "long"})
    return {k: v for k, v in cleaned.items() if v}


def save_number(
    channel: Channel | None,
    number: str,
    name: str | None = None,
    team=KEEP,
    options: dict | None = None,
    replace: bool = False,
) -> Channel:
    """Create (``channel`` None) or change a phone number; flushes and audits.

    ``options``: hours, timezone, language, greeting (``clean_options``); ``replace``
    drops the ones not given (the screen), else they are merged (the CLI). ``team``: a
    Team, None (every agent) or KEEP."""
    try:
        address = normalise_phone(number)
    except InvalidIdentity as exc:
        raise Invalid(str(exc), fields={"number": "not a phone number"}) from exc
    cleaned = clean_options(options or {})
    mine = channel.id if channel is not None else 0
    with db.session.no_autoflush:
        other = db.session.execute(
            select(Channel.id).where(
                Channel.kind == PHONE, Channel.address == address, Channel.id != mine
            )
        ).first()
    if other:
        raise Invalid(
            _("The number %(number)s is set up already.", number=address),
            fields={"number": "taken"},
        )
    wanted = ((name or "").strip() or (channel.name if channel is not None else address))[:100]
    with db.session.no_autoflush:
        taken = db.session.execute(
            select(Channel.id).where(Channel.name == wanted, Channel.id != mine)
        ).first()
    if taken:
        raise Invalid(
            _("A channel called %(name)s exists already.", name=wanted), fields={"name": "taken"}
        )
    before = channel.public() if channel is not None else None
    if channel is None:
        channel = Channel(kind=PHONE, settings={}, secrets={}, state={}, active=True)
        db.session.add(channel)
    channel.name, channel.address = wanted, address
    kept = {} if replace else dict(channel.settings or {})
    channel.settings = {**kept, **cleaned}
    if team is not KEEP:
        channel.team = team
    db.session.flush()
    audit.record_saved("channel", channel.id, before, channel.public())
    return channel


def remove_number(channel: Channel) -> None:
    """Delete a phone number: its SMS and calls are no longer taken; its tickets stay
    (without their line: replies go out from TWILIO_NUMBER); flushes and audits."""
    audit.record(
        "channel.delete", object_type="channel", object_id=channel.id, before=channel.public()
    )
    db.session.delete(channel)
    db.session.flush()
