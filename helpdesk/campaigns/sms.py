"""Campaign texts through Twilio: one request per recipient (and per part of a long
text), the MessageSid recorded at once; a ``sending`` row a dead worker left is looked up
in Twilio's message list before anything is sent again (see ``recipients.py``)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from twilio.base.exceptions import TwilioRestException

from helpdesk import unit_of_work
from helpdesk.campaigns import content, recipients
from helpdesk.campaigns.models import Campaign, CampaignRecipient
from helpdesk.channels.twilio.common import our_number, rest_client
from helpdesk.extensions import db

log = logging.getLogger(__name__)
SLICE_SECONDS = 5.0
BATCH = 10


def text_for(body: str, person: content.Person, language: str | None) -> str:
    """The campaign text with the opt-out line, in the customer's language."""
    with force_locale(language or current_app.config.get("DEFAULT_LANGUAGE", "en")):
        return f"{content.fill(body, person)}\n{_('Reply STOP to opt out.')}"


def send_one(to: str | None, text: str) -> str:
    """Text ``text`` to ``to`` from our number; Twilio's MessageSid."""
    sender = our_number(None)
    if not to or not sender:
        raise LookupError("no number to text from or to")
    return str(rest_client().messages.create(to=to, from_=sender, body=text).sid)


def slice_(campaign: Campaign) -> None:
    """Text batches of recipients for one slice, each recorded as soon as Twilio took it."""
    campaign_id, body = campaign.id, campaign.body
    db.session.rollback()
    deadline = time.monotonic() + SLICE_SECONDS
    while time.monotonic() < deadline:
        batch = recipients.claim(campaign_id, BATCH)
        if not batch:
            return
        who = recipients.people([r[1] for r in batch if r[1] is not None])
        for position, (row_id, customer_id, address, _attempts) in enumerate(batch):
            if (
                db.session.scalar(db.select(Campaign.status).where(Campaign.id == campaign_id))
                != "sending"
            ):
                with unit_of_work.write_phase():
                    recipients.release([r[0] for r in batch[position:]])
                    recipients.cancel_pending(campaign_id)
                    db.session.commit()
                return
            db.session.rollback()
            recipients.throttle("sms", 1)
            person, language = who.get(customer_id or 0, (content.Person("", ""), None))
            _send_row(row_id, address, text_for(body, person, language))


def _send_row(row_id: int, address: str, text: str) -> None:
    """Send one recipient's text and record the outcome at once."""
    try:
        sid = send_one(address, text)
    except TwilioRestException as exc:
        permanent = 400 <= (exc.status or 0) < 500 and exc.status != 429
        with unit_of_work.write_phase():
            if permanent:
                recipients.mark(
                    [{"id": row_id, "error": f"Twilio {exc.code}: {exc.msg}"[:500]}], "failed"
                )
            else:
                recipients.release([row_id], f"Twilio {exc.status}")
            db.session.commit()
        return
    except LookupError as exc:
        with unit_of_work.write_phase():
            recipients.mark([{"id": row_id, "error": str(exc)}], "failed")
            db.session.commit()
        return
    with unit_of_work.write_phase():
        recipients.mark([{"id": row_id, "provider_id": sid}], "sent")
        db.session.commit()


def check(row: CampaignRecipient, text: str) -> tuple[str, str | None]:
    """What became of a text a dead worker may have sent: ``("sent", sid)`` when Twilio's
    list has it (to, from, since its claim, same text), ``("pending", None)`` when not,
    ``("failed", why)`` when Twilio cannot be asked."""
    since = row.claimed_at - timedelta(minutes=5) if row.claimed_at else None
    try:
        found = rest_client().messages.list(
            to=row.address, from_=our_number(None), date_sent_after=since, limit=50
        )
    except (TwilioRestException, LookupError, OSError) as exc:
        return "failed", f"unknown whether sent (Twilio not asked: {exc})"[:500]
    for message in found:
        if (message.body or "") == text:
            return "sent", str(message.sid)
    return "pending", None
