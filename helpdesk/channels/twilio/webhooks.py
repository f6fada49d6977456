"""The Twilio webhooks (/webhooks/twilio/*): verify the signature, call one service,
answer TwiML. CSRF-exempt: Twilio proves itself with X-Twilio-Signature instead.

Every signed request is spooled (``spool.py``) before the database is touched, so an SMS
or call that arrives while the database is down is handled once it is back.
"""

from __future__ import annotations

import logging

from flask import Blueprint, request

from helpdesk.channels.twilio import spool
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
    return _spooled("sms")


@bp.post("/sms/status")
def sms_status():
    """A delivery status of a message we sent."""
    return _spooled("sms_status")


@bp.post("/voice")
def voice():
    """An incoming call: record it, pop the caller's card, answer how to route it."""
    return _spooled("voice")


@bp.post("/voice/status")
def voice_status():
    """A call's status, the outcome of ringing agents or the queue, or a voicemail."""
    return _spooled("voice_status")


@bp.post("/voice/outbound")
def voice_outbound():
    """The TwiML App's voice URL: an agent's click-to-call from the browser."""
    return _spooled("voice_outbound")


@bp.post("/voice/recording")
def voice_recording():
    """A finished recording of an answered call, to keep in its ticket."""
    return _spooled("voice_recording")


def _spooled(kind: str):
    """Spool the signed request before the database is touched, handle it, and remove it
    from the spool; when the database is down, keep it there and answer without it."""
    raw = request.get_data(cache=True)
    try:
        entry: spool.Entry | None = spool.write(
            kind, request.path, request.query_string.decode("latin-1"), raw
        )
    except OSError:
        log.exception("Twilio request not spooled; handling it without a spool")
        entry = None
    try:
        response = spool.handle(kind, request.form, raw, request.args)
    except Exception as exc:
        if entry is not None and spool.database_unavailable(exc):
            spool.rollback()
            entry.keep()
            log.warning("database unavailable: %s spooled as %s (%s)", kind, entry.path.name, exc)
            return twiml(spool.fallback(kind, request.form))
        if entry is not None:
            entry.done()  # refused (bad input) or failed: nothing to replay
        raise
    if entry is not None:
        entry.done()
    return twiml(response)
