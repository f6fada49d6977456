"""The Twilio webhooks (/webhooks/twilio/*): verify the signature, call one service,
answer TwiML. CSRF-exempt: Twilio proves itself with X-Twilio-Signature instead.
"""

from __future__ import annotations

import logging

from flask import Blueprint, request

from helpdesk import unit_of_work
from helpdesk.channels.twilio import sms as twilio_sms
from helpdesk.channels.twilio import voice as twilio_voice
from helpdesk.channels.twilio.common import twiml, valid_signature
from helpdesk.errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("twilio_webhooks", __name__, url_prefix="/webhooks/twilio")


@bp.before_request
def _verify_signature():
    """Refuse, before anything is read or stored, a request Twilio did not sign."""
    if not valid_signature():
        log.warning(
            "refused %s %s: bad or missing X-Twilio-Signature", request.method, request.path
        )
        return error_response(
            403, "invalid_signature", "the X-Twilio-Signature header is missing or does not match"
        )
    return None


@bp.post("/sms")
def sms():
    """An incoming SMS or MMS: ingest it; any reply goes out through the REST API."""
    twilio_sms.receive(request.form, request.get_data(cache=True))
    return twiml()


@bp.post("/sms/status")
def sms_status():
    """A delivery status of a message we sent."""
    with unit_of_work.writing():
        twilio_sms.delivery_status(request.form, request.args.get("message"))
        unit_of_work.commit()
    return twiml()


@bp.post("/voice")
def voice():
    """An incoming call: record it, pop the caller's card, answer how to route it."""
    _, response = twilio_voice.incoming(request.form)
    return twiml(response)


@bp.post("/voice/status")
def voice_status():
    """A call's status, the outcome of ringing agents or the queue, or a voicemail."""
    with unit_of_work.writing():
        response = twilio_voice.status(request.form)
        unit_of_work.commit()
    return twiml(response)
